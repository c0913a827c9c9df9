//! k-anonymity for breakdowns: no group with fewer than k unique visitors is ever
//! shown alone.
//!
//! Small groups are folded into one `(other)` group. Totals stay exact (the other
//! group's counters are the sums of what it absorbed), and the folded values are
//! not named anywhere in the answer. Unique visitors of the folded group are an
//! upper bound when summed; callers that can ask ClickHouse for the exact merged
//! sketch pass it to [`Foldable::set_visitors`].

/// The label small groups are shown under.
pub const OTHER: &str = "(other)";

/// A breakdown row that can be folded into `(other)`.
pub trait Foldable: Sized {
    /// Unique visitors of the group.
    fn visitors(&self) -> u64;
    /// An empty `(other)` group.
    fn other() -> Self;
    /// Adds another group's counters to this one.
    fn absorb(&mut self, small: Self);
    /// Replaces the visitor count (exact value for the merged group).
    fn set_visitors(&mut self, visitors: u64);
}

/// Splits rows into those shown (≥ k visitors, order kept) and one trailing
/// `(other)` group absorbing the rest; `k = 0` disables folding. Returns the shown
/// rows and how many groups were folded.
pub fn fold<T: Foldable>(rows: Vec<T>, k: u32) -> (Vec<T>, usize) {
    if k == 0 {
        return (rows, 0);
    }
    let mut shown = Vec::with_capacity(rows.len());
    let mut other = T::other();
    let mut folded = 0;
    for row in rows {
        if row.visitors() >= u64::from(k) {
            shown.push(row);
        } else {
            other.absorb(row);
            folded += 1;
        }
    }
    if folded > 0 {
        shown.push(other);
    }
    (shown, folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Row {
        value: String,
        pageviews: u64,
        visitors: u64,
    }

    impl Foldable for Row {
        fn visitors(&self) -> u64 {
            self.visitors
        }
        fn other() -> Self {
            Row {
                value: OTHER.into(),
                pageviews: 0,
                visitors: 0,
            }
        }
        fn absorb(&mut self, small: Self) {
            self.pageviews += small.pageviews;
            self.visitors += small.visitors;
        }
        fn set_visitors(&mut self, visitors: u64) {
            self.visitors = visitors;
        }
    }

    fn row(v: &str, pv: u64, uv: u64) -> Row {
        Row {
            value: v.into(),
            pageviews: pv,
            visitors: uv,
        }
    }

    #[test]
    fn small_groups_are_folded_and_totals_stay_exact() {
        let rows = vec![
            row("/", 100, 40),
            row("/a", 9, 4),
            row("/b", 3, 1),
            row("/c", 50, 5),
        ];
        let (shown, folded) = fold(rows.clone(), 5);
        assert_eq!(folded, 2);
        assert_eq!(
            shown.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
            vec!["/", "/c", OTHER]
        );
        assert_eq!(
            shown.iter().map(|r| r.pageviews).sum::<u64>(),
            rows.iter().map(|r| r.pageviews).sum::<u64>()
        );
        assert!(shown.iter().all(|r| r.value == OTHER || r.visitors >= 5));
        assert_eq!(fold(rows.clone(), 0).0, rows);
        let (none_small, n) = fold(vec![row("/", 10, 10)], 5);
        assert_eq!(
            (none_small.len(), n),
            (1, 0),
            "no (other) row when nothing is folded"
        );
    }
}
