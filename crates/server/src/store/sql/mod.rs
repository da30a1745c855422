//! The one interface store code writes SQL through, so the same store functions run on
//! SQLite (the embedded default) and on PostgreSQL (the scale-out mode, issue 14).
//!
//! Store functions take `&dyn Db`. A `rusqlite::Connection` is a `Db`, so a converted
//! function is called with the writer's connection exactly as before; on PostgreSQL it
//! gets a [`PgDb`]. SQL is written once, in the subset both engines read (numbered `?N`
//! parameters, `ON CONFLICT`, `RETURNING`, `INSERT OR IGNORE`); [`dialect`] rewrites what
//! PostgreSQL spells differently. Values cross as the three types the schema uses:
//! 64-bit integers, text and bytes.

pub mod dialect;
mod postgres;
mod sqlite;

pub use self::postgres::PgDb;

use std::ops::ControlFlow;

use crate::error::ApiError;

/// A bound parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be bound: integers (booleans as 0/1), text, bytes, and `Option`s of them.
pub trait ToArg {
    fn to_arg(&self) -> Arg<'_>;
}

impl ToArg for i64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(*self)
    }
}

impl ToArg for i32 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

impl ToArg for u32 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

/// Sequence numbers and counters are u64 in the protocol and never reach 2^63.
impl ToArg for u64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(*self as i64)
    }
}

impl ToArg for bool {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for [u8] {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl ToArg for Vec<u8> {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}

impl<T: ToArg> ToArg for Option<T> {
    fn to_arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::to_arg)
    }
}

/// `args![a, b, c]`: the parameters `?1`, `?2`, `?3` of a statement.
#[macro_export]
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$($crate::store::sql::ToArg::to_arg(&$x)),*][..]
    };
}

/// One result row, whichever engine produced it.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a ::postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as `T`; a NULL or a type mismatch is an error, except into an
    /// `Option`.
    pub fn get<T: FromCol>(&self, i: usize) -> Result<T, ApiError> {
        match self {
            Row::Sqlite(r) => T::from_sqlite(r, i),
            Row::Pg(r) => T::from_pg(r, i),
        }
    }
}

/// A column type store code reads.
pub trait FromCol: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError>;
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError>;
}

/// Integer columns are BIGINT on PostgreSQL; an INTEGER result (e.g. `count(*)` is
/// BIGINT, but a literal `1` is INTEGER) is widened.
impl FromCol for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        Option::<i64>::from_pg(row, i)?.ok_or_else(|| null_column(i))
    }
}

impl FromCol for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        use ::postgres::types::Type;
        let ty = row.columns().get(i).map(|c| c.type_().clone());
        Ok(match ty {
            Some(Type::INT2) => row.try_get::<_, Option<i16>>(i)?.map(i64::from),
            Some(Type::INT4) => row.try_get::<_, Option<i32>>(i)?.map(i64::from),
            Some(Type::BOOL) => row.try_get::<_, Option<bool>>(i)?.map(i64::from),
            _ => row.try_get::<_, Option<i64>>(i)?,
        })
    }
}

/// Enum values and levels stored as integers.
impl FromCol for i32 {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        let v = i64::from_pg(row, i)?;
        i32::try_from(v).map_err(|_| ApiError::internal(format!("column {i}: {v} is not an i32")))
    }
}

impl FromCol for Option<i32> {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        Option::<i64>::from_pg(row, i)?
            .map(|v| {
                i32::try_from(v)
                    .map_err(|_| ApiError::internal(format!("column {i}: {v} is not an i32")))
            })
            .transpose()
    }
}

/// Booleans are 0/1 integers on SQLite and BOOLEAN (e.g. `x IS NOT NULL`) on PostgreSQL.
impl FromCol for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        Ok(i64::from_pg(row, i)? != 0)
    }
}

impl FromCol for String {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        Ok(row.try_get(i)?)
    }
}

impl FromCol for Option<String> {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        Ok(row.try_get(i)?)
    }
}

impl FromCol for Vec<u8> {
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, ApiError> {
        Ok(row.get(i)?)
    }
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, ApiError> {
        Ok(row.try_get(i)?)
    }
}

fn null_column(i: usize) -> ApiError {
    ApiError::internal(format!("column {i} is NULL"))
}

/// A connection (or transaction) store code runs SQL on. `sql` is `'static`: statements
/// are constants, prepared once per connection and cached.
pub trait Db {
    /// Runs a statement; the number of rows it changed.
    fn execute(&self, sql: &'static str, args: &[Arg<'_>]) -> Result<usize, ApiError>;
    /// Runs a query, calling `each` for the rows in order until it breaks (the rest are
    /// not read: a history scan stops once it has its page).
    fn for_each(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<ControlFlow<()>, ApiError>,
    ) -> Result<(), ApiError>;
    /// The PostgreSQL connection behind this `Db`, for the few statements written for it
    /// alone (one statement where SQLite, in process, runs a loop of cheap ones).
    fn as_postgres(&self) -> Option<&PgDb> {
        None
    }
}

impl dyn Db + '_ {
    /// The first row mapped by `f`, or None.
    pub fn optional<T>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        let mut f = Some(f);
        let mut out = None;
        self.for_each(sql, args, &mut |row| {
            if let Some(f) = f.take() {
                out = Some(f(row)?);
            }
            Ok(ControlFlow::Break(()))
        })?;
        Ok(out)
    }

    /// The first row mapped by `f`; no row is an error.
    pub fn one<T>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.optional(sql, args, f)?
            .ok_or_else(|| ApiError::internal(format!("no row from {sql}")))
    }

    /// Every row mapped by `f`.
    pub fn all<T>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T, ApiError>,
    ) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        self.for_each(sql, args, &mut |row| {
            out.push(f(row)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// Whether the query returns any row.
    pub fn exists(&self, sql: &'static str, args: &[Arg<'_>]) -> Result<bool, ApiError> {
        Ok(self.optional(sql, args, |_| Ok(()))?.is_some())
    }
}
