//! Configuration checks: settings that weaken the privacy promises without
//! anything wrong showing up in the database (salt file, proxies, geo).

use super::{Check, Status};
use crate::config::Config;

pub(super) fn salt_file_check(config: &Config) -> Check {
    let name = "salt state file";
    let Some(path) = &config.salt.state_file else {
        return Check::new(
            Status::Ok,
            name,
            "not configured: salts live in memory only",
        );
    };
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::new(
                Status::Ok,
                name,
                format!("{shown} does not exist yet (veil creates it with mode 0600)"),
            )
        }
        Err(e) => return Check::new(Status::Fail, name, format!("{shown}: cannot inspect: {e}")),
    };
    file_owner_and_mode(name, &shown.to_string(), &meta)
}

#[cfg(unix)]
fn file_owner_and_mode(name: &str, shown: &str, meta: &std::fs::Metadata) -> Check {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut fails = Vec::new();
    if !meta.is_file() {
        fails.push("is not a regular file".to_string());
    }
    if mode != 0o600 {
        fails.push(format!(
            "has mode {mode:04o}, must be 0600 (the salt lets anyone who reads it link today's visitor hashes)"
        ));
    }
    if meta.uid() != me {
        fails.push(format!(
            "is owned by uid {}, not by the current user (uid {me})",
            meta.uid()
        ));
    }
    if fails.is_empty() {
        Check::new(
            Status::Ok,
            name,
            format!("{shown}: mode 0600, owned by the current user"),
        )
    } else {
        Check::new(
            Status::Fail,
            name,
            format!("{shown} {}", fails.join(" and ")),
        )
    }
}

#[cfg(not(unix))]
fn file_owner_and_mode(name: &str, shown: &str, _meta: &std::fs::Metadata) -> Check {
    Check::new(
        Status::Warn,
        name,
        format!("{shown}: permissions cannot be checked on this platform"),
    )
}

pub(super) fn trusted_proxies_check(config: &Config) -> Check {
    let name = "trusted proxies";
    let list = &config.server.trusted_proxies;
    if list.is_empty() {
        return Check::new(
            Status::Ok,
            name,
            "none: the client address is the connection's peer",
        );
    }
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for s in list {
        let net = s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match net {
            Err(_) => fails.push(format!("`{s}` is not an address or CIDR")),
            Ok(n) if n.prefix_len() == 0 => fails.push(format!(
                "{n} trusts every address: any client can forge its IP"
            )),
            Ok(ipnet::IpNet::V4(n)) if n.prefix_len() < 8 => {
                warns.push(format!("{n} is very broad (shorter than /8)"))
            }
            Ok(ipnet::IpNet::V6(n)) if n.prefix_len() < 32 => {
                warns.push(format!("{n} is very broad (shorter than /32)"))
            }
            Ok(_) => {}
        }
    }
    if !fails.is_empty() {
        fails.extend(warns);
        return Check::new(Status::Fail, name, fails.join("; "));
    }
    if !warns.is_empty() {
        return Check::new(Status::Warn, name, warns.join("; "));
    }
    Check::new(
        Status::Ok,
        name,
        format!("{} range(s): {}", list.len(), list.join(", ")),
    )
}

pub(super) fn geo_check(config: &Config) -> Check {
    let paths = &config.geo.paths;
    if paths.is_empty() {
        return Check::new(
            Status::Warn,
            "geo",
            "no geo database configured: no country or region statistics",
        );
    }
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Check::new(
            Status::Warn,
            "geo",
            format!("not readable: {}", missing.join(", ")),
        );
    }
    Check::new(
        Status::Ok,
        "geo",
        format!(
            "{} file(s): addresses are reduced to country and region",
            paths.len()
        ),
    )
}
