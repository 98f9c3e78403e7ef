//! Loading: the `config` crate merges the YAML and the environment into one
//! raw key tree; that tree is checked against the tree of known keys (the
//! serialised defaults), which finds every unknown key at once and names it by
//! its full dotted path; then it is deserialised and validated.

use std::collections::{BTreeMap, HashMap};

use ::config::{Environment, File, FileFormat, Map, Source, Value, ValueKind};

use super::{Config, ConfigError, ENV_PREFIX, IGNORED_TEMPO_KEYS, LoadedConfig};

/// Loads a configuration: defaults, then `yaml`, then `SPANLAKE_*` variables
/// from `env`, then [`Config::validate`].
pub(super) fn load(
    yaml: Option<&str>,
    env: &HashMap<String, String>,
) -> Result<LoadedConfig, ConfigError> {
    let env = EnvVars::new(env);
    let mut builder = ::config::Config::builder();
    if let Some(yaml) = yaml {
        builder = builder.add_source(File::from_str(yaml, FileFormat::Yaml));
    }
    // Keys are lowercased by the crate; `try_parsing` stays off so every value
    // reaches serde as the exact string given (with it on, a path "007" would
    // become the integer 7 and come back as "7", and "1.50" as "1.5"). Number
    // and boolean fields parse strings themselves, after `check_scalar`.
    let environment = Environment::with_prefix(ENV_PREFIX.trim_end_matches('_'))
        .prefix_separator("_")
        .separator("__")
        .ignore_empty(true)
        .try_parsing(false)
        .source(Some(env.vars.clone().into_iter().collect()));
    let merged = builder.add_source(environment).build().map_err(from_crate_error)?;
    let mut raw = merged.collect().map_err(from_crate_error)?;
    let known = known_keys()?;

    let mut walker = Walker { unknown: Vec::new(), ignored: Vec::new(), invalid: None };
    walker.walk(&mut raw, &known, "");
    walker.unknown.sort();
    if let Some((first, others)) = walker.unknown.split_first() {
        return Err(unknown_key_error(first, others, &env, &known));
    }
    if let Some(err) = walker.invalid {
        return Err(env.annotate(err));
    }

    let config: Config = Value::new(None, ValueKind::Table(raw))
        .try_deserialize()
        .map_err(|e| env.annotate(from_crate_error(e)))?;
    config.validate().map_err(|e| env.annotate(e))?;
    Ok(LoadedConfig { config, ignored_keys: walker.ignored })
}

/// The tree of known keys: the defaults, serialised.
fn known_keys() -> Result<Map<String, Value>, ConfigError> {
    let mut defaults = Config::default();
    // An empty list leaves no key in the serialised tree: give each list one element.
    defaults.cluster.seeds = vec![String::new()];
    ::config::Config::try_from(&defaults).and_then(|defaults| defaults.collect()).map_err(|e| {
        ConfigError::Parse { message: format!("cannot build the default key tree: {e}") }
    })
}

/// The `SPANLAKE_*` variables of the environment that are config keys.
struct EnvVars {
    /// Variable name → value, for the variables considered.
    vars: BTreeMap<String, String>,
}

impl EnvVars {
    /// Keeps the variables that start with exactly `SPANLAKE_` (case matters,
    /// unlike in the `config` crate) and are not empty (the crate's
    /// `ignore_empty` treats those as unset).
    fn new(env: &HashMap<String, String>) -> Self {
        let vars = env
            .iter()
            .filter(|(name, value)| {
                name.strip_prefix(ENV_PREFIX).is_some_and(|rest| !rest.is_empty())
                    && !value.is_empty()
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Self { vars }
    }

    /// The dotted key a variable sets, computed as the `config` crate does.
    fn key_of(name: &str) -> String {
        name.to_lowercase()
            .strip_prefix(&ENV_PREFIX.to_lowercase())
            .unwrap_or_default()
            .replace("__", ".")
    }

    /// The variable that sets exactly `key`.
    fn setting(&self, key: &str) -> Option<(&str, String)> {
        self.vars.keys().map(|name| (name.as_str(), Self::key_of(name))).find(|(_, k)| k == key)
    }

    /// A variable that sets `key` or a key below it, with the key it sets.
    fn setting_under(&self, key: &str) -> Option<(&str, String)> {
        self.vars
            .keys()
            .map(|name| (name.as_str(), Self::key_of(name)))
            .find(|(_, k)| k == key || k.strip_prefix(key).is_some_and(|r| r.starts_with('.')))
    }

    /// Adds the variable that set the key to an [`ConfigError::Invalid`] reason.
    fn annotate(&self, err: ConfigError) -> ConfigError {
        match err {
            ConfigError::Invalid { key, reason } => match self.setting(&key) {
                Some((var, _)) => ConfigError::Invalid {
                    reason: format!("{reason} (set by environment variable {var})"),
                    key,
                },
                None => ConfigError::Invalid { key, reason },
            },
            other => other,
        }
    }
}

/// The environment variable that sets a dotted key.
fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_uppercase().replace('.', "__"))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

/// What to do with one raw entry.
enum Action {
    Keep,
    Remove,
    Descend,
    EmptyTable,
}

struct Walker {
    unknown: Vec<String>,
    ignored: Vec<String>,
    invalid: Option<ConfigError>,
}

impl Walker {
    /// Checks `raw` (at `prefix`) against `known`: records unknown keys, drops
    /// ignored Tempo keys, turns a null section into an empty one (`grpc:`
    /// means "enabled, with defaults") and drops null leaves (their default
    /// stays), and checks number and boolean leaves.
    ///
    /// A map-typed field (free-form keys) would need its path skipped here.
    fn walk(&mut self, raw: &mut Map<String, Value>, known: &Map<String, Value>, prefix: &str) {
        let mut keys: Vec<String> = raw.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let path = join(prefix, &key);
            let (Some(default), Some(value)) = (known.get(&key), raw.get(&key)) else {
                match ignored_note(&path) {
                    Some(note) if !near_known_sibling(&key, known) => {
                        raw.remove(&key);
                        self.ignored.push(format!("ignoring Tempo config key {path:?}: {note}"));
                    }
                    _ => self.unknown.push(path),
                }
                continue;
            };
            let action = match (&value.kind, &default.kind) {
                (ValueKind::Nil, ValueKind::Table(_)) => Action::EmptyTable,
                (ValueKind::Nil, _) => Action::Remove,
                (ValueKind::Table(_), ValueKind::Table(_)) => Action::Descend,
                (ValueKind::Table(table), _) => {
                    // Keys below a plain value: each is unknown.
                    let mut below: Vec<String> = table.keys().map(|k| join(&path, k)).collect();
                    below.sort();
                    self.unknown.extend(below);
                    Action::Keep
                }
                (kind, ValueKind::Table(_)) => {
                    self.invalid.get_or_insert_with(|| {
                        ConfigError::invalid(
                            path.clone(),
                            format!("expected a section of keys, got {}", describe(kind)),
                        )
                    });
                    Action::Keep
                }
                (kind, default_kind) => {
                    if let Err(reason) = check_scalar(kind, default_kind) {
                        self.invalid
                            .get_or_insert_with(|| ConfigError::invalid(path.clone(), reason));
                    }
                    Action::Keep
                }
            };
            match action {
                Action::Keep => {}
                Action::Remove => {
                    raw.remove(&key);
                }
                Action::EmptyTable => {
                    if let Some(value) = raw.get_mut(&key) {
                        value.kind = ValueKind::Table(Map::new());
                    }
                }
                Action::Descend => {
                    if let (Some(ValueKind::Table(table)), ValueKind::Table(known_table)) =
                        (raw.get_mut(&key).map(|v| &mut v.kind), &default.kind)
                    {
                        self.walk(table, known_table, &path);
                    }
                }
            }
        }
    }
}

/// Why `path` is ignored, when it is an ignored Tempo key or lies under one.
fn ignored_note(path: &str) -> Option<&'static str> {
    IGNORED_TEMPO_KEYS
        .iter()
        .find(|(ignored, _)| {
            path == *ignored || path.strip_prefix(ignored).is_some_and(|rest| rest.starts_with('.'))
        })
        .map(|(_, note)| *note)
}

/// Whether `key` looks like a typo of a known key beside it: such a key inside a partly read
/// Tempo section is an error with a suggestion, not a warning.
fn near_known_sibling(key: &str, known: &Map<String, Value>) -> bool {
    suggest_key(key, known).is_some()
}

/// Stricter than the `config` crate, which would read `3.7` as the port 4,
/// `true` as the number 1 and `"yes"` or `1` as `true`.
fn check_scalar(value: &ValueKind, default: &ValueKind) -> Result<(), String> {
    match default {
        ValueKind::U64(_) | ValueKind::U128(_) => match value {
            ValueKind::I64(n) if *n < 0 => Err(format!("must not be negative, got {n}")),
            ValueKind::I128(n) if *n < 0 => Err(format!("must not be negative, got {n}")),
            ValueKind::String(s) if s.parse::<u128>().is_err() => match s.parse::<i128>() {
                Ok(_) => Err(format!("must not be negative, got {s}")),
                Err(_) => Err(format!("expected a whole number, got {s:?}")),
            },
            _ => check_number(value),
        },
        ValueKind::I64(_) | ValueKind::I128(_) => match value {
            ValueKind::String(s) if s.parse::<i128>().is_err() => {
                Err(format!("expected a whole number, got {s:?}"))
            }
            _ => check_number(value),
        },
        ValueKind::Float(_) => match value {
            ValueKind::String(s) if s.trim().parse::<f64>().is_err() => {
                Err(format!("expected a number, got {s:?}"))
            }
            ValueKind::Boolean(b) => Err(format!("expected a number, got {b}")),
            _ => Ok(()),
        },
        ValueKind::Boolean(_) => match value {
            ValueKind::Boolean(_) => Ok(()),
            ValueKind::String(s)
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Ok(())
            }
            ValueKind::String(s) => Err(format!("expected true or false, got {s:?}")),
            ValueKind::I64(n) => Err(format!("expected true or false, got {n}")),
            ValueKind::U64(n) => Err(format!("expected true or false, got {n}")),
            ValueKind::Float(n) => Err(format!("expected true or false, got {n}")),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// A raw value as shown in messages.
fn describe(kind: &ValueKind) -> String {
    match kind {
        ValueKind::String(s) => format!("{s:?}"),
        ValueKind::Array(_) => "a list".to_owned(),
        ValueKind::Table(_) => "a section".to_owned(),
        ValueKind::Nil => "nothing".to_owned(),
        other => other.to_string(),
    }
}

fn check_number(value: &ValueKind) -> Result<(), String> {
    match value {
        ValueKind::Float(f) => Err(format!("expected a whole number, got {f}")),
        ValueKind::Boolean(b) => Err(format!("expected a whole number, got {b}")),
        _ => Ok(()),
    }
}

/// Converts an error of the `config` crate, which names the dotted key of a
/// value that failed to deserialise.
fn from_crate_error(err: ::config::ConfigError) -> ConfigError {
    use ::config::ConfigError as E;
    match err {
        E::Type { unexpected, expected, key: Some(key), .. } => {
            ConfigError::invalid(key, format!("expected {expected}, got {unexpected}"))
        }
        E::At { error, key: Some(key), .. } => ConfigError::invalid(key, error.to_string()),
        E::FileParse { cause, .. } => ConfigError::Parse { message: cause.to_string() },
        other => ConfigError::Parse { message: other.to_string() },
    }
}

fn unknown_key_error(
    key: &str,
    others: &[String],
    env: &EnvVars,
    known: &Map<String, Value>,
) -> ConfigError {
    let from_env = env.setting_under(key);
    let suggestion = match &from_env {
        Some((_, var_key)) => suggest_env_var(key, var_key, known),
        None => suggest_key(key, known),
    };
    ConfigError::UnknownKey {
        key: key.to_owned(),
        env_var: from_env.map(|(var, _)| var.to_owned()),
        suggestion,
        others: others.to_vec(),
    }
}

/// For a variable that sets `var_key`, of which `key` is the unknown part:
/// the variable probably meant. Catches a single `_` where `__` separates
/// levels (`SPANLAKE_SERVER_HTTP_LISTEN_PORT`) and typos in one level.
fn suggest_env_var(key: &str, var_key: &str, known: &Map<String, Value>) -> Option<String> {
    let flat = var_key.replace('.', "_");
    let mut leaves = Vec::new();
    leaf_paths(known, "", &mut leaves);
    if let Some(leaf) = leaves.iter().find(|leaf| leaf.replace('.', "_") == flat) {
        return Some(env_var_name(leaf));
    }
    let rest = var_key.strip_prefix(key).unwrap_or_default();
    suggest_key(key, known).map(|fixed| env_var_name(&format!("{fixed}{rest}")))
}

/// The known key closest to `key` among its siblings, if close enough.
fn suggest_key(key: &str, known: &Map<String, Value>) -> Option<String> {
    let (parent, last) = key.rsplit_once('.').unwrap_or(("", key));
    let mut siblings = known;
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        match siblings.get(part).map(|v| &v.kind) {
            Some(ValueKind::Table(table)) => siblings = table,
            _ => return None,
        }
    }
    let (distance, best) =
        siblings.keys().map(|candidate| (edit_distance(candidate, last), candidate)).min()?;
    (distance <= 2.max(last.chars().count() / 4)).then(|| join(parent, best))
}

fn leaf_paths(table: &Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = join(prefix, key);
        match &value.kind {
            ValueKind::Table(sub) => leaf_paths(sub, &path, out),
            _ => out.push(path),
        }
    }
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("http_listen_prot", "http_listen_port"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn env_var_names_map_to_dotted_keys() {
        assert_eq!(EnvVars::key_of("SPANLAKE_SERVER__HTTP_LISTEN_PORT"), "server.http_listen_port");
        assert_eq!(env_var_name("storage.trace.wal.path"), "SPANLAKE_STORAGE__TRACE__WAL__PATH");
    }
}
