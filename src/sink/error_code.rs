//! ClickHouse's exception codes, named, and what they mean for a batch: retry
//! (the server is busy, down or slow) or never (the data itself is refused).
//!
//! The HTTP interface reports the code only inside the message text
//! (`Code: 27, e.displayText() = …`), so [`exception_code`] reads it from there.

/// `CANNOT_PARSE_TEXT`.
pub const CANNOT_PARSE_TEXT: u32 = 6;
/// `NO_SUCH_COLUMN_IN_TABLE`.
pub const NO_SUCH_COLUMN_IN_TABLE: u32 = 16;
/// `CANNOT_PARSE_QUOTED_STRING`.
pub const CANNOT_PARSE_QUOTED_STRING: u32 = 26;
/// `CANNOT_PARSE_INPUT_ASSERTION_FAILED`.
pub const CANNOT_PARSE_INPUT_ASSERTION_FAILED: u32 = 27;
/// `CANNOT_READ_ALL_DATA`.
pub const CANNOT_READ_ALL_DATA: u32 = 33;
/// `CANNOT_PARSE_DATE`.
pub const CANNOT_PARSE_DATE: u32 = 38;
/// `CANNOT_PARSE_DATETIME`.
pub const CANNOT_PARSE_DATETIME: u32 = 41;
/// `ILLEGAL_COLUMN` (also "Cannot add column …: column with this name already
/// exists").
pub const ILLEGAL_COLUMN: u32 = 44;
/// `TYPE_MISMATCH`.
pub const TYPE_MISMATCH: u32 = 53;
/// `SYNTAX_ERROR`.
pub const SYNTAX_ERROR: u32 = 62;
/// `ARGUMENT_OUT_OF_BOUND`.
pub const ARGUMENT_OUT_OF_BOUND: u32 = 69;
/// `CANNOT_CONVERT_TYPE`.
pub const CANNOT_CONVERT_TYPE: u32 = 70;
/// `CANNOT_PARSE_NUMBER`.
pub const CANNOT_PARSE_NUMBER: u32 = 72;
/// `INCORRECT_DATA`.
pub const INCORRECT_DATA: u32 = 117;
/// `TOO_LARGE_STRING_SIZE`.
pub const TOO_LARGE_STRING_SIZE: u32 = 131;
/// `TIMEOUT_EXCEEDED` (`max_execution_time`).
pub const TIMEOUT_EXCEEDED: u32 = 159;
/// `TOO_SLOW` (the estimate says the query would exceed its time limit).
pub const TOO_SLOW: u32 = 160;
/// `TOO_MANY_SIMULTANEOUS_QUERIES`.
pub const TOO_MANY_SIMULTANEOUS_QUERIES: u32 = 202;
/// `MEMORY_LIMIT_EXCEEDED`.
pub const MEMORY_LIMIT_EXCEEDED: u32 = 241;

/// Codes that say the data itself is refused: a retry would fail the same way.
const MALFORMED: [u32; 14] = [
    CANNOT_PARSE_TEXT,
    NO_SUCH_COLUMN_IN_TABLE,
    CANNOT_PARSE_QUOTED_STRING,
    CANNOT_PARSE_INPUT_ASSERTION_FAILED,
    CANNOT_READ_ALL_DATA,
    CANNOT_PARSE_DATE,
    CANNOT_PARSE_DATETIME,
    TYPE_MISMATCH,
    SYNTAX_ERROR,
    ARGUMENT_OUT_OF_BOUND,
    CANNOT_CONVERT_TYPE,
    CANNOT_PARSE_NUMBER,
    INCORRECT_DATA,
    TOO_LARGE_STRING_SIZE,
];

/// Codes that say a query hit a server limit (time, memory, concurrency).
pub const OVER_LIMITS: [u32; 4] = [
    TIMEOUT_EXCEEDED,
    TOO_SLOW,
    TOO_MANY_SIMULTANEOUS_QUERIES,
    MEMORY_LIMIT_EXCEEDED,
];

/// ClickHouse's numeric exception code in an error, if any.
pub fn exception_code(e: &clickhouse::error::Error) -> Option<u32> {
    let clickhouse::error::Error::BadResponse(msg) = e else {
        return None;
    };
    let rest = &msg[msg.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether a failed insert may succeed if tried again (network, timeouts,
/// overload), as opposed to data ClickHouse refuses as malformed.
pub fn is_retryable(e: &clickhouse::error::Error) -> bool {
    use clickhouse::error::Error as E;
    match e {
        E::Network(_) | E::TimedOut => true,
        E::BadResponse(_) => !exception_code(e).is_some_and(|c| MALFORMED.contains(&c)),
        E::InvalidParams(_) | E::Compression(_) | E::Custom(_) | E::SequenceMustHaveLength => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_decide_retries() {
        let bad = clickhouse::error::Error::BadResponse(
            "Code: 27, e.displayText() = DB::Exception: Cannot parse input".into(),
        );
        assert_eq!(
            exception_code(&bad),
            Some(CANNOT_PARSE_INPUT_ASSERTION_FAILED)
        );
        assert!(!is_retryable(&bad));
        let busy = clickhouse::error::Error::BadResponse(
            "Code: 252, e.displayText() = DB::Exception: Too many parts".into(),
        );
        assert!(is_retryable(&busy));
        assert!(is_retryable(&clickhouse::error::Error::TimedOut));
    }
}
