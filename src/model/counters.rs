//! The counters every stored row carries, declared once.
//!
//! [`with_counters!`] is the one list. [`Counters`] (the in-memory cell), every row
//! type that travels to or from ClickHouse ([`counter_row!`]) and the SQL column
//! lists ([`Counters::columns`]) are generated from it, so adding a counter means
//! adding it here and to the SQL migrations, and nothing else.

/// Calls `$callback! { [name: "doc", …] rest… }` with the counter list.
macro_rules! with_counters {
    ($callback:ident ! { $($rest:tt)* }) => {
        $callback! {
            [
                hits: "Hits counted (the `decision` dimension counts consent decisions with it).",
                pageviews: "Pageviews.",
                events: "Custom events.",
                visits: "Visits (sessions) started.",
                bounces: "Visits with one pageview and no engagement.",
                duration: "Total visit duration in seconds.",
                revenue: "Revenue in thousandths of the currency unit (only on cells keyed by a currency).",
                engagements: "Engagement reports (a page left or hidden after being seen).",
                engaged_ms: "Milliseconds the page was visible, summed over engagement reports.",
                scroll_depth: "Deepest scroll position in percent, summed over engagement reports.",
            ]
            $($rest)*
        }
    };
}
pub(crate) use with_counters;

macro_rules! define_counters {
    ([$($name:ident : $doc:literal,)*]) => {
        /// Additive counters of one cell.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $(#[doc = $doc] pub $name: u64,)*
        }

        impl Counters {
            /// The counter names, which are also their column names, in row order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Adds `o` to these counters.
            pub fn add(&mut self, o: &Counters) {
                $(self.$name += o.$name;)*
            }

            /// The counter values, in [`Counters::NAMES`] order.
            pub fn values(&self) -> Vec<u64> {
                vec![$(self.$name),*]
            }

            /// Whether every counter is zero.
            pub fn is_zero(&self) -> bool {
                true $(&& self.$name == 0)*
            }
        }
    };
}
with_counters!(define_counters! {});

impl Counters {
    /// The counters as SQL select items, `f(name)` each, comma-separated, in row
    /// order: `Counters::columns(|c| format!("sumMerge({c}) AS {c}"))`.
    pub fn columns(f: impl Fn(&str) -> String) -> String {
        Counters::NAMES
            .iter()
            .map(|c| f(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One pageview.
    pub fn pageview() -> Counters {
        Counters {
            pageviews: 1,
            ..Counters::default()
        }
    }

    /// One custom event.
    pub fn event() -> Counters {
        Counters {
            events: 1,
            ..Counters::default()
        }
    }

    /// One counted hit (consent decisions).
    pub fn hit() -> Counters {
        Counters {
            hits: 1,
            ..Counters::default()
        }
    }
}

/// Declares a row struct (ClickHouse `Row` + serde) with the given leading fields,
/// then every counter, then the given trailing fields — the column order of the
/// SQL that reads or writes it — plus `counters()` / `set_counters()`.
///
/// ```ignore
/// counter_row! {
///     /// A row.
///     pub struct R { pub value: String, } then { pub visitors: u64, }
/// }
/// ```
macro_rules! counter_row {
    (
        $(#[$meta:meta])*
        pub struct $row:ident {
            $($(#[$lmeta:meta])* pub $lead:ident : $lty:ty,)*
        } then {
            $($(#[$tmeta:meta])* pub $tail:ident : $tty:ty,)*
        }
    ) => {
        $crate::model::counters::with_counters! { counter_row! {
            @emit
            $(#[$meta])*
            pub struct $row {
                $($(#[$lmeta])* pub $lead : $lty,)*
            } then {
                $($(#[$tmeta])* pub $tail : $tty,)*
            }
        } }
    };
    (
        [$($name:ident : $doc:literal,)*]
        @emit
        $(#[$meta:meta])*
        pub struct $row:ident {
            $($(#[$lmeta:meta])* pub $lead:ident : $lty:ty,)*
        } then {
            $($(#[$tmeta:meta])* pub $tail:ident : $tty:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(::clickhouse::Row, ::serde::Serialize, ::serde::Deserialize)]
        pub struct $row {
            $($(#[$lmeta])* pub $lead: $lty,)*
            $(#[doc = $doc] pub $name: u64,)*
            $($(#[$tmeta])* pub $tail: $tty,)*
        }

        impl $row {
            /// The counters of this row.
            #[allow(dead_code)]
            pub fn counters(&self) -> $crate::model::Counters {
                $crate::model::Counters { $($name: self.$name,)* }
            }

            /// Sets the counters of this row.
            #[allow(dead_code)]
            pub fn set_counters(&mut self, c: &$crate::model::Counters) {
                $(self.$name = c.$name;)*
            }
        }
    };
}
pub(crate) use counter_row;

#[cfg(test)]
mod tests {
    use super::*;

    counter_row! {
        /// A test row.
        #[derive(Debug, Default, PartialEq)]
        pub struct TestRow {
            pub value: String,
        } then {
            pub visitors: u64,
        }
    }

    #[test]
    fn one_list_drives_struct_rows_and_sql() {
        assert_eq!(
            Counters::NAMES,
            [
                "hits",
                "pageviews",
                "events",
                "visits",
                "bounces",
                "duration",
                "revenue",
                "engagements",
                "engaged_ms",
                "scroll_depth"
            ]
        );
        let mut c = Counters::pageview();
        c.add(&Counters::event());
        c.add(&Counters::hit());
        assert_eq!((c.hits, c.pageviews, c.events), (1, 1, 1));
        assert!(!c.is_zero() && Counters::default().is_zero());
        assert_eq!(
            Counters::columns(|n| format!("sum({n})")),
            "sum(hits), sum(pageviews), sum(events), sum(visits), sum(bounces), sum(duration), \
             sum(revenue), sum(engagements), sum(engaged_ms), sum(scroll_depth)"
        );
        let mut r = TestRow::default();
        r.set_counters(&c);
        assert_eq!(r.counters(), c);
        assert_eq!(
            <TestRow as clickhouse::Row>::COLUMN_NAMES,
            [
                "value",
                "hits",
                "pageviews",
                "events",
                "visits",
                "bounces",
                "duration",
                "revenue",
                "engagements",
                "engaged_ms",
                "scroll_depth",
                "visitors"
            ]
        );
    }
}
