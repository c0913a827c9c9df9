//! The `VEIL_SECTION__KEY` environment overlay, applied to the TOML table before it
//! is deserialised, so each value is typed like the key it overrides.

use super::{Config, ConfigError};

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
        let [section, key] = path.as_slice() else {
            return Err(ConfigError::key(var, "expected VEIL_SECTION__KEY"));
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
