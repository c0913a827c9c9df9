//! SQL text plus binds, built in one place: the stats planner, the day close and
//! the migrations send [`Sql`]; the current-engine check replays
//! [`Sql::inline`], the exact text ClickHouse receives.

use clickhouse::query::Query;
use clickhouse::Client;

/// A bound value.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A string literal.
    Str(String),
    /// A number.
    Num(u64),
}

/// SQL text plus its binds, in order: what one query sends.
#[derive(Clone, Debug)]
pub struct Sql {
    /// The text, with `?` where binds go.
    pub text: String,
    /// The binds.
    pub args: Vec<Arg>,
}

impl Sql {
    /// A query of fixed text with no binds yet.
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends text (which may contain `?`) and the values for its `?`s.
    pub fn push(&mut self, text: &str, args: impl IntoIterator<Item = Arg>) -> &mut Sql {
        self.text.push_str(text);
        self.args.extend(args);
        self
    }

    /// Appends another query's text and binds.
    pub fn append(&mut self, other: Sql) -> &mut Sql {
        self.text.push_str(&other.text);
        self.args.extend(other.args);
        self
    }

    /// The query, binds applied.
    pub fn query(&self, client: &Client) -> Query {
        let mut q = client.query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::Num(n) => q.bind(*n),
            };
        }
        q
    }

    /// The text with every bind inlined as an escaped literal, as ClickHouse
    /// receives it (the current-engine check replays these).
    pub fn inline(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 64);
        let mut args = self.args.iter();
        for (i, part) in self.text.split('?').enumerate() {
            if i > 0 {
                match args.next() {
                    Some(Arg::Str(s)) => {
                        out.push('\'');
                        for c in s.chars() {
                            match c {
                                '\\' => out.push_str("\\\\"),
                                '\'' => out.push_str("\\'"),
                                c => out.push(c),
                            }
                        }
                        out.push('\'');
                    }
                    Some(Arg::Num(n)) => out.push_str(&n.to_string()),
                    None => out.push('?'),
                }
            }
            out.push_str(part);
        }
        out
    }
}

/// A string bind.
pub fn text(v: impl Into<String>) -> Arg {
    Arg::Str(v.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_inline_as_escaped_literals() {
        let mut sql = Sql::new("SELECT ? AS a, ? AS b");
        sql.args.extend([text("it's \\ ok"), Arg::Num(7)]);
        assert_eq!(sql.inline(), "SELECT 'it\\'s \\\\ ok' AS a, 7 AS b");
    }
}
