//! The `VEIL_SECTION__KEY` environment overlay, applied to the TOML table before it
//! is deserialised, so each value is typed like the key it overrides.
//! `VEIL_SITES__<index>__KEY` sets a key of the site at that position of the file
//! (from 0), e.g. `VEIL_SITES__0__SHARE_SECRET`, so secrets can stay out of it.

use super::{Config, ConfigError, SiteConfig};

/// Applies `VEIL_SECTION__KEY=value` overrides, typed by the default configuration.
pub(super) fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = toml::Table::try_from(Config::default())
        .map_err(|e| ConfigError::key("<defaults>", e.to_string()))?;
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("VEIL_") && k.contains("__"))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var["VEIL_".len()..]
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        if path.first().is_some_and(|s| s == "sites") {
            apply_site(table, &var, &path, &raw)?;
            continue;
        }
        let [section, key] = path.as_slice() else {
            return Err(ConfigError::key(
                var,
                "expected VEIL_SECTION__KEY (or VEIL_SITES__<index>__KEY)",
            ));
        };
        let Some(default) = defaults
            .get(section)
            .and_then(|s| s.as_table())
            .and_then(|s| s.get(key))
            .or_else(|| {
                // Optional keys have no default value; they are strings or paths.
                (section == "salt" && key == "state_file").then_some(&EMPTY_STRING)
            })
        else {
            return Err(ConfigError::key(
                var,
                format!("no configuration key `{section}.{key}`"),
            ));
        };
        let value = typed_like(default, &raw).ok_or_else(|| {
            ConfigError::key(
                var.clone(),
                format!("`{raw}` is not a valid {}", default.type_str()),
            )
        })?;
        let section_table = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = section_table.as_table_mut() else {
            return Err(ConfigError::key(section.clone(), "must be a table"));
        };
        section_table.insert(key.clone(), value);
    }
    Ok(())
}

/// `VEIL_SITES__<index>__KEY`: a plain key (not a table) of a site the file has.
fn apply_site(
    table: &mut toml::Table,
    var: &str,
    path: &[String],
    raw: &str,
) -> Result<(), ConfigError> {
    let [_, index, key] = path else {
        return Err(ConfigError::key(
            var,
            "expected VEIL_SITES__<index>__KEY (the site's position in the file, from 0)",
        ));
    };
    let i: usize = index.parse().map_err(|_| {
        ConfigError::key(
            var,
            format!("`{index}` is not a site index (the site's position in the file, from 0)"),
        )
    })?;
    let defaults = toml::Table::try_from(SiteConfig::with_id("x"))
        .map_err(|e| ConfigError::key("<defaults>", e.to_string()))?;
    let Some(default) = defaults.get(key).filter(|v| !v.is_table()) else {
        return Err(ConfigError::key(
            var,
            format!("no site key `{key}` that can be set from the environment"),
        ));
    };
    let value = typed_like(default, raw).ok_or_else(|| {
        ConfigError::key(
            var,
            format!("`{raw}` is not a valid {}", default.type_str()),
        )
    })?;
    let sites = table.get_mut("sites").and_then(|s| s.as_array_mut());
    let count = sites.as_ref().map_or(0, |s| s.len());
    let site = sites
        .and_then(|s| s.get_mut(i))
        .and_then(|s| s.as_table_mut())
        .ok_or_else(|| {
            ConfigError::key(
                var,
                format!("there is no sites[{i}]: the configuration has {count} [[sites]] entries (counted from 0)"),
            )
        })?;
    site.insert(key.clone(), value);
    Ok(())
}

static EMPTY_STRING: toml::Value = toml::Value::String(String::new());

fn typed_like(default: &toml::Value, raw: &str) -> Option<toml::Value> {
    Some(match default {
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse().ok()?),
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return None,
        }),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}
