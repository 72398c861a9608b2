//! Kafka's sampled statistics: values kept in `num_samples` rolling samples of
//! `sample_window` each, so min, max, avg and rates cover the last window only.
//!
//! # References
//! - Kafka `SampledStat` (`metrics.num.samples`=2, `metrics.sample.window.ms`=30000).

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// A rolling window of samples.
#[derive(Debug, Clone)]
pub struct Window {
    /// Samples, oldest first.
    samples: Vec<Sample>,
    /// `metrics.num.samples`.
    num_samples: usize,
    /// `metrics.sample.window.ms`.
    sample_window: Duration,
    /// Last value recorded.
    last: Option<f64>,
}

/// What a window holds right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Values recorded in the window.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest (NaN when empty, as Kafka reports).
    pub min: f64,
    /// Largest (NaN when empty).
    pub max: f64,
    /// Average (NaN when empty).
    pub avg: f64,
    /// Sum per second over the window's elapsed time.
    pub rate: f64,
}

impl Window {
    /// A window of `num_samples` × `sample_window`.
    pub fn new(num_samples: usize, sample_window: Duration) -> Self {
        Self {
            samples: Vec::new(),
            num_samples: num_samples.max(1),
            sample_window,
            last: None,
        }
    }

    /// Records one value at `now`.
    pub fn record(&mut self, value: f64, now: Instant) {
        self.record_n(value, 1, value, value, now);
    }

    /// Records `count` values summing to `sum` with the given extremes (a batch).
    pub fn record_n(&mut self, sum: f64, count: u64, min: f64, max: f64, now: Instant) {
        self.last = Some(max);
        let fresh = self
            .samples
            .last()
            .is_none_or(|s| now.duration_since(s.start) >= self.sample_window);
        if fresh {
            self.samples.push(Sample {
                start: now,
                count: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            });
            if self.samples.len() > self.num_samples {
                self.samples.remove(0);
            }
        }
        if let Some(s) = self.samples.last_mut() {
            s.count += count;
            s.sum += sum;
            s.min = s.min.min(min);
            s.max = s.max.max(max);
        }
    }

    /// The last value recorded (NaN when none).
    pub fn last(&self) -> f64 {
        self.last.unwrap_or(f64::NAN)
    }

    /// Summary of the samples not older than the whole window.
    pub fn summary(&self, now: Instant) -> Summary {
        let span = self.sample_window * self.num_samples as u32;
        let live: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| now.duration_since(s.start) < span)
            .collect();
        let count: u64 = live.iter().map(|s| s.count).sum();
        let sum: f64 = live.iter().map(|s| s.sum).sum();
        let (min, max, avg) = if count == 0 {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            (
                live.iter().map(|s| s.min).fold(f64::INFINITY, f64::min),
                live.iter().map(|s| s.max).fold(f64::NEG_INFINITY, f64::max),
                sum / count as f64,
            )
        };
        // Kafka's Rate divides by the elapsed window, at least one sample long.
        let elapsed = live
            .first()
            .map_or(Duration::ZERO, |s| now.duration_since(s.start))
            .max(self.sample_window * (self.num_samples as u32 - 1).max(1));
        let rate = if elapsed.is_zero() {
            0.0
        } else {
            sum / elapsed.as_secs_f64()
        };
        Summary {
            count,
            sum,
            min,
            max,
            avg,
            rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_forgets_old_samples() {
        let t0 = Instant::now();
        let mut w = Window::new(2, Duration::from_secs(30));
        w.record(10.0, t0);
        w.record(30.0, t0 + Duration::from_secs(1));
        let s = w.summary(t0 + Duration::from_secs(2));
        assert_eq!((s.count, s.min, s.max, s.avg), (2, 10.0, 30.0, 20.0));
        w.record(5.0, t0 + Duration::from_secs(31));
        assert_eq!(w.summary(t0 + Duration::from_secs(32)).min, 5.0);
        let s = w.summary(t0 + Duration::from_secs(61));
        assert_eq!(s.count, 1, "first sample expired after 60 s");
        assert!(w.summary(t0 + Duration::from_secs(200)).avg.is_nan());
        assert_eq!(w.last(), 5.0);
    }

    #[test]
    fn rate_is_per_second_over_the_window() {
        let t0 = Instant::now();
        let mut w = Window::new(2, Duration::from_secs(30));
        w.record_n(300.0, 3, 100.0, 100.0, t0);
        let s = w.summary(t0 + Duration::from_secs(10));
        assert!((s.rate - 10.0).abs() < 1e-9, "{}", s.rate);
    }
}
