//! Early stopping on the dev score: the phase keeps its best epoch, and stops after `patience`
//! epochs without improvement (head-only epochs do not count against it).

use super::state::TrainState;

impl TrainState {
    /// Record a finished epoch's dev score; true when it is the phase's best so far (the caller
    /// then saves the model as the phase's best).
    pub fn record_dev(&mut self, dev_score: f64, head_only: bool) -> bool {
        let lower = self.phase.lower_is_better(self.select);
        let improved = match self.best {
            None => true,
            Some(b) if lower => dev_score < b,
            Some(b) => dev_score > b,
        };
        self.epoch += 1;
        if improved {
            self.best = Some(dev_score);
            self.best_epoch = self.epoch;
            self.bad_epochs = 0;
        } else if !head_only {
            self.bad_epochs += 1;
        }
        improved
    }

    pub fn should_stop(&self, patience: usize) -> bool {
        self.bad_epochs >= patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_core::train::{Phase, Recipe, Select};

    #[test]
    fn stage_two_stops_after_patience_epochs_without_a_higher_f1() {
        let mut s = TrainState::new(Recipe::NoContrast, 1);
        let improved: Vec<bool> = [50.0, 60.0, 60.0, 55.0, 61.0, 10.0, 10.0]
            .iter()
            .map(|&f| s.record_dev(f, false))
            .collect();
        assert_eq!(improved, [true, true, false, false, true, false, false]);
        assert_eq!((s.best, s.best_epoch, s.epoch), (Some(61.0), 5, 7));
        assert!(s.should_stop(2));
        assert!(!s.should_stop(3));
    }

    #[test]
    fn stage_one_wants_a_lower_loss_and_head_only_epochs_do_not_count() {
        let mut s = TrainState::new(Recipe::Nerco, 1);
        assert_eq!(s.phase, Phase::Contrast);
        assert!(s.record_dev(2.0, false));
        assert!(!s.record_dev(2.5, false));
        assert!(s.record_dev(1.5, false));
        assert_eq!((s.best_epoch, s.bad_epochs), (3, 0));
        s.next_phase();
        assert!(s.record_dev(40.0, true));
        assert!(!s.record_dev(30.0, true));
        assert_eq!(
            s.bad_epochs, 0,
            "head-only epochs are not held against the phase"
        );
        assert!(!s.record_dev(30.0, false));
        assert_eq!(s.bad_epochs, 1);
    }

    #[test]
    fn stage_one_selected_by_cluster_quality_wants_a_higher_score() {
        let mut s = TrainState::new(Recipe::Nerco, 1);
        s.select = Select::Silhouette;
        assert!(s.record_dev(0.3, false));
        assert!(!s.record_dev(0.2, false));
        assert!(s.record_dev(0.5, false));
        assert_eq!((s.best, s.best_epoch, s.bad_epochs), (Some(0.5), 3, 0));
    }
}
