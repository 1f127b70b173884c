//! The closed-loop engine: `concurrency` workers each send one request, wait for its answer and
//! send the next, for `warmup` then `duration` seconds. Only requests *started* after the warmup
//! are measured; every loop ends at its deadline.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One worker's request: `Ok(bytes received)` or `Err(short kind)` (e.g. "status 404").
pub trait Op: Send + 'static {
    fn call(&mut self, i: u64) -> impl Future<Output = Result<usize, String>> + Send;
}

#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one worker saw during the measured window.
#[derive(Default)]
struct WorkerStats {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
    bytes: u64,
}

/// The measured window of a run.
pub struct Measurement {
    /// Seconds between the end of the warmup and the moment the last worker stopped.
    pub elapsed_s: f64,
    /// Successful requests.
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    /// Sorted latencies of every measured request (successful or not), microseconds.
    latencies_us: Vec<u32>,
    pub bytes: u64,
}

impl Measurement {
    pub fn throughput(&self) -> f64 {
        if self.elapsed_s > 0.0 { self.ok as f64 / self.elapsed_s } else { 0.0 }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Latency quantile in milliseconds (nearest rank).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies_us, q)
    }

    pub fn mean_ms(&self) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.iter().map(|&l| f64::from(l)).sum::<f64>() / self.latencies_us.len() as f64 / 1000.0
    }

    pub fn latency_json(&self) -> Value {
        json!({
            "p50": round3(self.quantile_ms(0.50)),
            "p90": round3(self.quantile_ms(0.90)),
            "p99": round3(self.quantile_ms(0.99)),
            "max": round3(self.quantile_ms(1.0)),
            "mean": round3(self.mean_ms()),
        })
    }
}

/// Nearest-rank quantile of sorted microsecond samples, in milliseconds.
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs the workers; `on_measure_start` is called once when the warmup ends (to scrape a
/// counter at the right moment).
pub async fn run<O: Op>(
    config: LoadConfig,
    workers: Vec<O>,
    on_measure_start: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Measurement> {
    anyhow::ensure!(!workers.is_empty(), "no workers");
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let counter = Arc::new(AtomicU64::new(0));
    let marker = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        on_measure_start.await;
    });
    let mut handles = Vec::with_capacity(workers.len());
    for mut op in workers {
        let counter = counter.clone();
        handles.push(tokio::spawn(async move {
            let mut stats = WorkerStats::default();
            // Bounded by `end`; a request may overrun it, the next one is never sent.
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let outcome = op.call(i).await;
                if sent >= measure_from {
                    let us = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    stats.latencies_us.push(us);
                    match outcome {
                        Ok(bytes) => stats.bytes += bytes as u64,
                        Err(kind) => *stats.errors.entry(kind).or_default() += 1,
                    }
                } else if outcome.is_err() {
                    // Errors during warmup slow nothing down on purpose: avoid a hot loop.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            stats
        }));
    }
    let mut all = WorkerStats::default();
    for handle in handles {
        let stats = handle.await?;
        all.latencies_us.extend(stats.latencies_us);
        all.bytes += stats.bytes;
        for (kind, n) in stats.errors {
            *all.errors.entry(kind).or_default() += n;
        }
    }
    let stopped = Instant::now();
    marker.await?;
    all.latencies_us.sort_unstable();
    let error_total: u64 = all.errors.values().sum();
    let ok = all.latencies_us.len() as u64 - error_total;
    Ok(Measurement {
        elapsed_s: stopped.saturating_duration_since(measure_from).as_secs_f64(),
        ok,
        errors: all.errors,
        latencies_us: all.latencies_us,
        bytes: all.bytes,
    })
}

/// A deterministic, well-spread pseudo-random number for request `i` (splitmix64).
pub fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let samples: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(quantile_ms(&samples, 0.5), 50.0);
        assert_eq!(quantile_ms(&samples, 0.99), 99.0);
        assert_eq!(quantile_ms(&samples, 1.0), 100.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    struct Sleepy;

    impl Op for Sleepy {
        async fn call(&mut self, i: u64) -> Result<usize, String> {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if i % 10 == 0 { Err("every tenth".into()) } else { Ok(1) }
        }
    }

    #[tokio::test]
    async fn closed_loop_measures_only_after_warmup() {
        let config =
            LoadConfig { concurrency: 2, warmup: Duration::from_millis(100), duration: Duration::from_millis(300) };
        let m = run(config, vec![Sleepy, Sleepy], async {}).await.unwrap();
        assert!(m.ok > 50, "{}", m.ok);
        assert!(m.error_count() > 0);
        assert!(m.quantile_ms(0.5) >= 2.0);
        assert!(m.elapsed_s >= 0.3 && m.elapsed_s < 0.5, "{}", m.elapsed_s);
    }
}
