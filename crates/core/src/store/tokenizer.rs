//! The `imsync` FTS5 tokenizer: exact, case-insensitive substring search for any keyword
//! length, CJK and emoji included, answered from the index.
//!
//! A document is indexed as its case-folded characters: at every position the bigram that
//! starts there, plus the unigram colocated with it. A keyword of one character is looked up
//! as a unigram; a longer keyword becomes the phrase of its overlapping bigrams, whose
//! consecutive positions are exactly the places where it occurs as a substring. Word-based
//! tokenizers cannot answer mid-word or 1-2 character CJK queries; trigram indexes cannot
//! answer keywords shorter than three characters. This answers both with one index.
//!
//! Nothing here panics across the C boundary: the callbacks catch unwinds and report
//! `SQLITE_ERROR`.

use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use rusqlite::ffi;
use rusqlite::Connection;

use crate::registry::FIELD_SEPARATOR;

pub const NAME: &str = "imsync";

/// The case fold shared by the index and every caller that compares text: a character's
/// lowercase when that is a single character, else the character itself (so positions in
/// the folded text stay one-to-one with the source characters).
pub fn fold(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Folds a keyword the way the index does; used by tests and brute-force oracles.
pub fn fold_str(s: &str) -> String {
    s.chars().map(fold).collect()
}

/// Maps the two characters the index cannot hold as text to noncharacters, in indexed
/// text and keywords alike, so searching stays exact: NUL would end FTS5's query string,
/// and U+001F is the separator between a message's search fields.
pub fn escape_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\0', FIELD_SEPARATOR]) {
        s.chars()
            .map(|c| match c {
                '\0' => '\u{FFFF}',
                FIELD_SEPARATOR => '\u{FFFE}',
                c => c,
            })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// Builds the FTS5 query for a keyword: one quoted phrase, with embedded quotes doubled, so
/// user input never reaches FTS5 query syntax (`AND`, `NEAR(`, `*`, `-`, `"` are all text).
pub fn match_expression(keyword: &str) -> String {
    format!("\"{}\"", escape_text(keyword).replace('"', "\"\""))
}

struct Emitter {
    ctx: *mut c_void,
    cb: unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int,
    buf: [u8; 8],
}

impl Emitter {
    fn emit(&mut self, colocated: bool, chars: &[char], start: usize, end: usize) -> c_int {
        let mut len = 0;
        for c in chars {
            len += c.encode_utf8(&mut self.buf[len..]).len();
        }
        let flags = if colocated {
            ffi::FTS5_TOKEN_COLOCATED
        } else {
            0
        };
        // SAFETY: `cb`/`ctx` come from FTS5 for the duration of this xTokenize call and the
        // token buffer outlives the call.
        unsafe {
            (self.cb)(
                self.ctx,
                flags,
                self.buf.as_ptr() as *const c_char,
                len as c_int,
                start as c_int,
                end as c_int,
            )
        }
    }
}

/// (folded char, byte start, byte end) of each character of `text`.
fn folded(text: &str) -> Vec<(char, usize, usize)> {
    text.char_indices()
        .map(|(i, c)| (fold(c), i, i + c.len_utf8()))
        .collect()
}

fn tokenize_document(em: &mut Emitter, text: &str) -> c_int {
    let chars = folded(text);
    for segment in chars.split(|(c, _, _)| *c == FIELD_SEPARATOR) {
        for (i, &(c, start, end)) in segment.iter().enumerate() {
            let rc = match segment.get(i + 1) {
                Some(&(next, _, next_end)) => {
                    let rc = em.emit(false, &[c, next], start, next_end);
                    if rc != ffi::SQLITE_OK {
                        return rc;
                    }
                    em.emit(true, &[c], start, end)
                }
                None => em.emit(false, &[c], start, end),
            };
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
    }
    ffi::SQLITE_OK
}

fn tokenize_query(em: &mut Emitter, text: &str) -> c_int {
    let chars = folded(text);
    if chars.iter().any(|(c, _, _)| *c == FIELD_SEPARATOR) {
        // The separator is never indexed, so a keyword holding it matches nothing.
        return em.emit(false, &[FIELD_SEPARATOR], 0, text.len());
    }
    match chars.as_slice() {
        [] => ffi::SQLITE_OK,
        [(c, s, e)] => em.emit(false, &[*c], *s, *e),
        _ => {
            for pair in chars.windows(2) {
                let rc = em.emit(false, &[pair[0].0, pair[1].0], pair[0].1, pair[1].2);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
            }
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_create(
    _user: *mut c_void,
    _args: *mut *const c_char,
    _n: c_int,
    out: *mut *mut ffi::Fts5Tokenizer,
) -> c_int {
    // The tokenizer has no state; FTS5 only needs a non-null handle.
    static HANDLE: u8 = 0;
    unsafe { *out = &HANDLE as *const u8 as *mut ffi::Fts5Tokenizer };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_delete(_t: *mut ffi::Fts5Tokenizer) {}

unsafe extern "C" fn x_tokenize(
    _t: *mut ffi::Fts5Tokenizer,
    ctx: *mut c_void,
    flags: c_int,
    text: *const c_char,
    n_text: c_int,
    x_token: Option<
        unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int,
    >,
) -> c_int {
    let Some(cb) = x_token else {
        return ffi::SQLITE_ERROR;
    };
    if text.is_null() || n_text <= 0 {
        return ffi::SQLITE_OK;
    }
    // SAFETY: FTS5 passes a buffer of `n_text` bytes valid for this call.
    let bytes = unsafe { std::slice::from_raw_parts(text as *const u8, n_text as usize) };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return ffi::SQLITE_OK;
    };
    let mut em = Emitter {
        ctx,
        cb,
        buf: [0; 8],
    };
    let query = flags & ffi::FTS5_TOKENIZE_QUERY != 0;
    catch_unwind(AssertUnwindSafe(|| {
        if query {
            tokenize_query(&mut em, text)
        } else {
            tokenize_document(&mut em, text)
        }
    }))
    .unwrap_or(ffi::SQLITE_ERROR)
}

/// Registers the tokenizer on one connection; every connection that touches the FTS table
/// (writer and readers) must call it before use.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    // SAFETY: standard FTS5 API discovery (`SELECT fts5(?1)` with a bound pointer), then a
    // tokenizer whose callbacks only read the buffers FTS5 hands them.
    unsafe {
        let db = conn.handle();
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("fts5 unavailable".into()),
            ));
        }
        let mut api: *mut ffi::fts5_api = ptr::null_mut();
        ffi::sqlite3_bind_pointer(
            stmt,
            1,
            &mut api as *mut *mut ffi::fts5_api as *mut c_void,
            c"fts5_api_ptr".as_ptr(),
            None,
        );
        ffi::sqlite3_step(stmt);
        ffi::sqlite3_finalize(stmt);
        if api.is_null() || (*api).iVersion < 2 {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ERROR),
                Some("fts5 api v2 not available".into()),
            ));
        }
        let mut tokenizer = ffi::fts5_tokenizer {
            xCreate: Some(x_create),
            xDelete: Some(x_delete),
            xTokenize: Some(x_tokenize),
        };
        let create = (*api)
            .xCreateTokenizer
            .expect("fts5_api v2 has xCreateTokenizer");
        let rc = create(
            api,
            c"imsync".as_ptr(),
            ptr::null_mut(),
            &mut tokenizer,
            None,
        );
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("fts5 tokenizer".into()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        register(&c).unwrap();
        c.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='imsync', content='', contentless_delete=1)",
        )
        .unwrap();
        c
    }

    fn hits(c: &Connection, kw: &str) -> Vec<i64> {
        let mut s = c
            .prepare("SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY rowid")
            .unwrap();
        s.query_map([match_expression(kw)], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn substring_semantics_for_every_length() {
        let c = db();
        let docs = [
            "Hello World 你好世界",
            "世界和平 peace",
            "hell no 😀👍",
            "AND NEAR(x) \"q\" -z *",
        ];
        for (i, d) in docs.iter().enumerate() {
            c.execute(
                "INSERT INTO t(rowid, x) VALUES (?1, ?2)",
                rusqlite::params![i as i64 + 1, d],
            )
            .unwrap();
        }
        for kw in [
            "世",
            "世界",
            "你好世",
            "ell",
            "HELL",
            "o w",
            "😀",
            "😀👍",
            "AND",
            "NEAR(",
            "\"",
            "-z",
            "*",
            "界和",
            "x",
            "zz",
        ] {
            let want: Vec<i64> = docs
                .iter()
                .enumerate()
                .filter(|(_, d)| fold_str(d).contains(&fold_str(kw)))
                .map(|(i, _)| i as i64 + 1)
                .collect();
            assert_eq!(hits(&c, kw), want, "keyword {kw:?}");
        }
    }

    #[test]
    fn fields_never_match_across_the_separator() {
        let c = db();
        c.execute(
            "INSERT INTO t(rowid, x) VALUES (1, ?1)",
            [format!("ab{FIELD_SEPARATOR}cd")],
        )
        .unwrap();
        assert_eq!(hits(&c, "ab"), vec![1]);
        assert_eq!(hits(&c, "cd"), vec![1]);
        assert!(hits(&c, "bc").is_empty());
        assert!(hits(&c, &format!("b{FIELD_SEPARATOR}c")).is_empty());
    }

    #[test]
    fn delete_by_rowid_removes_from_index() {
        let c = db();
        c.execute("INSERT INTO t(rowid, x) VALUES (7, '删除我')", [])
            .unwrap();
        assert_eq!(hits(&c, "删"), vec![7]);
        c.execute("DELETE FROM t WHERE rowid = 7", []).unwrap();
        assert!(hits(&c, "删").is_empty());
    }
}
