//! SQLite behind [`Db`]: the writer's (or a reader's) connection itself, with its statement
//! cache.

use std::ops::ControlFlow;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::{Arg, Db, Row};
use crate::error::ApiError;

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Text(t) => ValueRef::Text(t.as_bytes()),
            Arg::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Db for Connection {
    fn execute(&self, sql: &'static str, args: &[Arg<'_>]) -> Result<usize, ApiError> {
        Ok(self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(args))?)
    }

    fn for_each(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<ControlFlow<()>, ApiError>,
    ) -> Result<(), ApiError> {
        let mut stmt = self.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            if each(&Row::Sqlite(row))?.is_break() {
                break;
            }
        }
        Ok(())
    }
}
