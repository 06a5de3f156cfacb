//! A phase's running loss. On the CPU every step's value is read at once (a read is free there);
//! on a GPU a read is a device→host sync that drains the queue, so the device terms of the
//! losses are summed on the device and read back every few steps.

use super::step::StepLoss;
use burn::prelude::*;

pub struct LossMeter {
    read_every: usize,
    /// Values read back so far (host terms and the device sums read).
    sum: f64,
    steps: usize,
    /// Weighted device terms of the steps since the last read, summed on the device.
    pending: Option<Tensor<1>>,
    /// Host terms of those steps (already values).
    pending_host: f64,
    unread: usize,
}

impl LossMeter {
    /// `read_every`: steps per read-back (1 = every step, as the CPU path does).
    pub fn new(read_every: usize) -> Self {
        Self {
            read_every: read_every.max(1),
            sum: 0.0,
            steps: 0,
            pending: None,
            pending_host: 0.0,
            unread: 0,
        }
    }

    /// Counts a step's loss. When this step reads back, returns the mean loss of the steps read
    /// by it (a non-finite value means the run diverged); otherwise `None`.
    pub fn add(&mut self, loss: &StepLoss) -> Option<f64> {
        self.steps += 1;
        self.unread += 1;
        if self.read_every == 1 {
            // The step's own value, exactly as `StepLoss::value` gives it.
            let value = loss.value();
            self.sum += value;
            self.unread = 0;
            return Some(value);
        }
        self.pending_host += loss.host;
        if let Some((w, t)) = &loss.device {
            let term = t.clone().detach().mul_scalar(*w);
            self.pending = Some(match self.pending.take() {
                Some(p) => p + term,
                None => term,
            });
        }
        (self.unread >= self.read_every).then(|| self.read())
    }

    /// Reads what is pending; the mean of those steps.
    fn read(&mut self) -> f64 {
        let device = self
            .pending
            .take()
            .map_or(0.0, |t| crate::host::tensor_values(t)[0] as f64);
        let chunk = self.pending_host + device;
        let n = self.unread.max(1);
        self.sum += chunk;
        self.pending_host = 0.0;
        self.unread = 0;
        chunk / n as f64
    }

    /// The mean loss over every step so far (reads what is pending); 0 before any step.
    pub fn mean(&mut self) -> f64 {
        if self.unread > 0 {
            self.read();
        }
        if self.steps == 0 {
            0.0
        } else {
            self.sum / self.steps as f64
        }
    }

    pub fn steps(&self) -> usize {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(host: f64, device: Option<f32>) -> StepLoss {
        let dev = Device::flex();
        let t = |v: f32| Tensor::<1>::from_floats([v], &dev);
        StepLoss {
            tensor: t(0.0),
            host,
            device: device.map(|v| (2.0, t(v))),
        }
    }

    #[test]
    fn reading_every_step_gives_each_value_and_their_mean() {
        let mut m = LossMeter::new(1);
        assert_eq!(m.add(&loss(1.0, None)), Some(1.0));
        assert_eq!(m.add(&loss(0.5, Some(0.25))), Some(1.0));
        assert_eq!(m.mean(), 1.0);
        assert_eq!(m.steps(), 2);
    }

    #[test]
    fn on_a_gpu_the_device_terms_are_read_once_per_chunk_with_the_same_mean() {
        let losses: Vec<StepLoss> = (0..7)
            .map(|i| loss(0.1 * i as f64, Some(i as f32)))
            .collect();
        let mut every = LossMeter::new(1);
        losses.iter().for_each(|l| {
            every.add(l);
        });
        let mut chunked = LossMeter::new(3);
        let before = crate::host::reads();
        let read: Vec<Option<f64>> = losses.iter().map(|l| chunked.add(l)).collect();
        assert_eq!(
            crate::host::reads() - before,
            2,
            "steps 3 and 6 read, the rest do not"
        );
        assert!(read[0].is_none() && read[1].is_none() && read[3].is_none());
        // Steps 1–3: host 0.0 + 0.1 + 0.2, device 2 × (0 + 1 + 2).
        assert!((read[2].unwrap() - (0.3 + 6.0) / 3.0).abs() < 1e-6);
        assert!((chunked.mean() - every.mean()).abs() < 1e-6);
        assert_eq!(
            crate::host::reads() - before,
            3,
            "the mean reads the last step"
        );
    }

    #[test]
    fn a_non_finite_device_term_shows_in_its_chunk() {
        let mut m = LossMeter::new(2);
        assert!(m.add(&loss(0.0, Some(f32::NAN))).is_none());
        assert!(m.add(&loss(0.0, Some(1.0))).unwrap().is_nan());
    }
}
