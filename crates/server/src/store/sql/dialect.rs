//! Rewrites the shared SQL subset into PostgreSQL's spelling. Only what the store's
//! statements use is handled; anything else reaches PostgreSQL unchanged and fails at
//! prepare time, where the shared test suite sees it.

/// `?N` → `$N` (a bare `?` takes the next number), outside string literals and quoted
/// names; `INSERT OR IGNORE INTO … [RETURNING …]` → `INSERT INTO … ON CONFLICT DO NOTHING
/// [RETURNING …]`; SQLite's "no limit" `LIMIT -1` → `LIMIT ALL`.
pub fn to_postgres(sql: &str) -> String {
    let sql = sql.trim().trim_end_matches(';');
    let numbered = number_parameters(sql);
    no_limit(&ignore_conflicts(&numbered))
}

fn number_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1u32;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = if digits.is_empty() {
                    next
                } else {
                    digits.parse().unwrap_or(next)
                };
                // As SQLite numbers a bare `?`: one past the largest number so far.
                next = next.max(n + 1);
                out.push('$');
                out.push_str(&n.to_string());
            }
            None => out.push(c),
        }
    }
    out
}

/// SQLite's `LIMIT -1` (the token, not `-10`) is PostgreSQL's `LIMIT ALL`.
fn no_limit(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("LIMIT -1") {
        let after = &rest[at + "LIMIT -1".len()..];
        let whole = !after.starts_with(|c: char| c.is_ascii_digit());
        out.push_str(&rest[..at]);
        out.push_str(if whole { "LIMIT ALL" } else { "LIMIT -1" });
        rest = after;
    }
    out.push_str(rest);
    out
}

fn ignore_conflicts(sql: &str) -> String {
    const OR_IGNORE: &str = "INSERT OR IGNORE INTO";
    let Some(rest) = sql.strip_prefix(OR_IGNORE) else {
        return sql.to_string();
    };
    let returning = rest
        .match_indices("RETURNING")
        .find(|(at, _)| rest[..*at].ends_with(char::is_whitespace))
        .map(|(at, _)| at);
    let (body, returning) = match returning {
        Some(at) => (rest[..at].trim_end(), &rest[at..]),
        None => (rest, ""),
    };
    let sep = if returning.is_empty() { "" } else { " " };
    format!("INSERT INTO{body} ON CONFLICT DO NOTHING{sep}{returning}")
}

#[cfg(test)]
mod tests {
    use super::to_postgres;

    #[test]
    fn parameters_are_numbered_outside_quotes() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?2 AND c = ?1 AND d = '?' AND \"e?\" = ?"),
            "SELECT a FROM t WHERE b = $2 AND c = $1 AND d = '?' AND \"e?\" = $3"
        );
        assert_eq!(
            to_postgres("UPDATE t SET a = ? WHERE b = ?;"),
            "UPDATE t SET a = $1 WHERE b = $2"
        );
    }

    #[test]
    fn insert_or_ignore_becomes_on_conflict_do_nothing() {
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO t (a, b) VALUES (?1, ?2)"),
            "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?1) RETURNING a"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING a"
        );
        assert_eq!(
            to_postgres("INSERT INTO t (a) VALUES (?1) ON CONFLICT(a) DO NOTHING"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT(a) DO NOTHING"
        );
    }

    #[test]
    fn no_limit_is_spelled_all() {
        assert_eq!(
            to_postgres("SELECT a FROM t ORDER BY a LIMIT -1 OFFSET ?1"),
            "SELECT a FROM t ORDER BY a LIMIT ALL OFFSET $1"
        );
        assert_eq!(
            to_postgres("SELECT a FROM t LIMIT -10"),
            "SELECT a FROM t LIMIT -10"
        );
        assert_eq!(
            to_postgres("SELECT a FROM t LIMIT -1"),
            "SELECT a FROM t LIMIT ALL"
        );
    }

    #[test]
    fn returning_may_follow_a_line_break() {
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?1)\n RETURNING a"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING a"
        );
    }
}
