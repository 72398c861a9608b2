//! Jittered exponential backoff between retries (Kafka's `retry.backoff.ms` and
//! `retry.backoff.max.ms`, KIP-580).

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// First delay (`retry.backoff.ms`, Kafka default 100 ms).
    pub initial: Duration,
    /// Largest delay (`retry.backoff.max.ms`, Kafka default 1 s).
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        }
    }
}

/// Delays for successive attempts: doubling, capped, ±20 % jitter as in KIP-580.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Settings.
    config: BackoffConfig,
    /// Attempts so far.
    attempt: u32,
}

impl Backoff {
    /// Starts at the first delay.
    pub fn new(config: BackoffConfig) -> Self {
        Self { config, attempt: 0 }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let base = self
            .config
            .initial
            .saturating_mul(1u32 << exp)
            .min(self.config.max);
        let jitter: f64 = rand::random::<f64>() * 0.4 + 0.8;
        base.mul_f64(jitter)
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap_with_jitter() {
        let mut b = Backoff::new(BackoffConfig::default());
        let d0 = b.next_delay();
        assert!(d0 >= Duration::from_millis(80) && d0 <= Duration::from_millis(120));
        for _ in 0..10 {
            b.next_delay();
        }
        let d = b.next_delay();
        assert!(d <= Duration::from_millis(1200) && d >= Duration::from_millis(800));
    }
}
