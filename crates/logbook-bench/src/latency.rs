//! Latency samples and their percentiles.

use std::time::Duration;

/// Percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// The percentiles of `durations` (nearest-rank).
    pub fn of(mut durations: Vec<Duration>) -> Percentiles {
        durations.sort_unstable();
        let rank = |fraction: f64| {
            if durations.is_empty() {
                return 0.0;
            }
            let index = ((fraction * durations.len() as f64).ceil() as usize).clamp(1, durations.len()) - 1;
            durations[index].as_secs_f64() * 1000.0
        };
        Percentiles { samples: durations.len(), p50_ms: rank(0.50), p99_ms: rank(0.99), max_ms: rank(1.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let durations: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let percentiles = Percentiles::of(durations);
        assert_eq!((percentiles.p50_ms, percentiles.p99_ms, percentiles.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(Vec::new()).samples, 0);
    }
}
