//! Measuring a child process (wall, CPU, peak RSS, bytes written, from `/proc`) and reading the figures (median,
//! percentiles, sizes).

use anyhow::bail;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time, CPU time, peak RSS and bytes written of a child process, read from /proc while it runs.
pub(crate) struct Usage {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
    pub(crate) peak_rss_mb: f64,
    /// Bytes the process caused to be written to storage (`/proc/PID/io` `write_bytes`).
    pub(crate) written: u64,
    /// Of those, bytes truncated before they reached storage (`cancelled_write_bytes`).
    pub(crate) cancelled: u64,
}

/// `write_bytes` and `cancelled_write_bytes` of `/proc/PID/io`: what the process dirtied for storage, and what of it
/// was truncated before it got there (temporary files removed while still in the page cache).
pub(crate) fn written_bytes(pid: u32) -> Option<(u64, u64)> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| -> Option<u64> {
        io.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("write_bytes:")?, field("cancelled_write_bytes:")?))
}

pub(crate) fn proc_sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((hwm, ticks))
}

pub(crate) fn run_measured(cmd: &mut Command) -> anyhow::Result<(Usage, String)> {
    let (usage, text, ok) = run_measured_any(cmd)?;
    if !ok {
        bail!("command failed: {text}");
    }
    Ok((usage, text))
}

/// Like [`run_measured`], whatever the exit status: also whether it succeeded (0, or 3 = held).
pub(crate) fn run_measured_any(cmd: &mut Command) -> anyhow::Result<(Usage, String, bool)> {
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id();
    let (mut hwm, mut ticks, mut written, mut cancelled) = (0u64, 0u64, 0u64, 0u64);
    loop {
        if let Some((h, t)) = proc_sample(pid) {
            hwm = hwm.max(h);
            ticks = ticks.max(t);
        }
        if let Some((w, c)) = written_bytes(pid) {
            written = written.max(w);
            cancelled = cancelled.max(c);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = start.elapsed();
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let ok = out.status.success() || out.status.code() == Some(3);
    // /proc reports CPU in clock ticks (100 per second on Linux).
    Ok((
        Usage { wall, cpu: Duration::from_millis(ticks * 10), peak_rss_mb: hwm as f64 / 1024.0, written, cancelled },
        text,
        ok,
    ))
}

/// How many persons a sync's summary says it created, updated or deleted (`+N ~N -N` per id group).
pub(crate) fn changed_persons(summary: &str) -> u64 {
    summary
        .lines()
        .filter(|l| l.contains("reference"))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|t| t.strip_prefix(['+', '~', '-']).and_then(|n| n.trim_end_matches(',').parse::<u64>().ok()))
        .sum()
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|es| es.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

pub(crate) fn human_size(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

pub(crate) fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let m = v[v.len() / 2];
    (m, v[0], v[v.len() - 1])
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64
}
