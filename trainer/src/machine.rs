//! What the reports say about the machine they were measured on: CPU model, core count and load
//! average (Linux `/proc`; placeholders elsewhere).

/// The CPU's model name from `/proc/cpuinfo`, or `unknown CPU`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Logical cores this process may use, if the platform says.
pub fn logical_cores() -> Option<usize> {
    std::thread::available_parallelism().ok().map(|n| n.get())
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`, or `?`.
pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine() {
        assert!(!cpu_model().is_empty());
        assert!(logical_cores().is_some_and(|n| n >= 1));
        let load = load_avg();
        if std::path::Path::new("/proc/loadavg").exists() {
            assert_eq!(load.split(' ').count(), 3, "{load}");
            assert!(load.split(' ').all(|x| x.parse::<f64>().is_ok()), "{load}");
        } else {
            assert_eq!(load, "?");
        }
    }
}
