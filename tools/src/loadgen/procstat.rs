//! What a server process costs, read from `/proc` (Linux only; elsewhere every
//! reading is `None` and the report says so).
//!
//! CPU time is `utime + stime` of `/proc/<pid>/stat` (all threads), in clock ticks
//! of `USER_HZ`, which Linux fixes at 100 for user space on every architecture veil
//! targets. Peak memory is `VmHWM` of `/proc/<pid>/status`: the largest resident
//! set the process ever had, which is what an operator sizes a container for.

use std::path::Path;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`).
pub const USER_HZ: f64 = 100.0;

/// CPU time (user + system) of a process so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) ... utime(14) stime(15) → indices 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// Parent pid of a process.
pub fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Direct children of a process (nginx's workers under its master).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| parent(*p) == Some(pid))
        .collect()
}

fn status_field(pid: u32, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

fn kib(pid: u32, key: &str) -> Option<u64> {
    status_field(pid, key)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Peak resident set size in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    kib(pid, "VmHWM")
}

/// Current resident set size in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    kib(pid, "VmRSS")
}

/// The CPUs a process may run on (`Cpus_allowed_list`, e.g. `0` or `0-1`).
pub fn cpus_allowed(pid: u32) -> Option<String> {
    status_field(pid, "Cpus_allowed_list")
}

/// Whether a process exists.
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A process and its children, measured together (a master and its workers).
#[derive(Clone, Debug)]
pub struct Tree {
    /// The main process.
    pub pid: u32,
}

impl Tree {
    /// Pids measured: the process and its direct children.
    pub fn pids(&self) -> Vec<u32> {
        let mut p = vec![self.pid];
        p.extend(children(self.pid));
        p
    }

    /// CPU seconds of the whole tree.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let mut total = 0.0;
        let mut any = false;
        for p in self.pids() {
            if let Some(s) = cpu_seconds(p) {
                total += s;
                any = true;
            }
        }
        any.then_some(total)
    }

    /// Sum of the peak RSS of the tree's processes, in KiB (an upper bound of the
    /// tree's true peak, since the peaks need not coincide).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let v: Vec<u64> = self.pids().into_iter().filter_map(peak_rss_kib).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    }

    /// CPUs the processes may run on (distinct lists joined with `,`).
    pub fn cpus_allowed(&self) -> Option<String> {
        let mut v: Vec<String> = self.pids().into_iter().filter_map(cpus_allowed).collect();
        v.sort();
        v.dedup();
        (!v.is_empty()).then(|| v.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let me = std::process::id();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(me).is_some());
        assert!(peak_rss_kib(me).unwrap() > 0);
        assert!(rss_kib(me).unwrap() <= peak_rss_kib(me).unwrap());
        assert!(cpus_allowed(me).is_some());
        assert!(parent(me).is_some());
        assert!(Tree { pid: me }.cpu_seconds().is_some());
    }
}
