//! PostgreSQL behind [`Db`]: one blocking client (the store runs jobs on its own threads,
//! as with SQLite), statements translated by [`dialect`] and prepared once per connection.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::ops::ControlFlow;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::{dialect, Arg, Db, Row};
use crate::error::ApiError;

/// One PostgreSQL connection and its prepared statements.
pub struct PgDb {
    client: RefCell<Client>,
    statements: RefCell<HashMap<&'static str, Statement>>,
    /// Inside [`PgDb::transaction`].
    in_transaction: Cell<bool>,
    /// A statement failed since the transaction began: PostgreSQL has aborted it, so it
    /// must not be reported as committed even if the caller went on.
    failed: Cell<bool>,
}

impl PgDb {
    /// Connects to `url` (`postgres://USER:PASS@HOST:PORT/DB`). Without TLS: the server
    /// and its database sit on one private network (see the README's deployment section).
    pub fn connect(url: &str) -> Result<PgDb, String> {
        let client = Client::connect(url, NoTls)
            .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        Ok(PgDb {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            in_transaction: Cell::new(false),
            failed: Cell::new(false),
        })
    }

    /// Runs several statements as they are (DDL, `BEGIN`, `SAVEPOINT` …), untranslated.
    pub fn batch(&self, sql: &str) -> Result<(), ApiError> {
        let done = self.client.borrow_mut().batch_execute(sql);
        self.note(done)
    }

    /// The client itself, for what [`Db`] does not cover (schema migrations).
    pub fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        f(&mut self.client.borrow_mut())
    }

    /// Runs `f` in one transaction. It commits when `f` returns Ok and no statement in it
    /// failed: PostgreSQL aborts a transaction at its first error, so a failure `f` chose
    /// to ignore would otherwise turn the COMMIT into a silent rollback. It rolls back
    /// otherwise, also when `f` panics. Transactions do not nest.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&PgDb) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        if self.in_transaction.get() {
            return Err(ApiError::internal(
                "PgDb::transaction called inside a transaction",
            ));
        }
        self.batch("BEGIN")?;
        self.in_transaction.set(true);
        self.failed.set(false);
        let guard = RollbackOnDrop(self);
        let outcome = f(self);
        std::mem::forget(guard);
        self.in_transaction.set(false);
        match outcome {
            Ok(v) if !self.failed.get() => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Ok(_) => {
                let _ = self.batch("ROLLBACK");
                Err(ApiError::internal(
                    "a statement failed inside the transaction: rolled back",
                ))
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Passes `r` on, remembering a failure inside a transaction.
    fn note<T>(&self, r: Result<T, postgres::Error>) -> Result<T, ApiError> {
        if r.is_err() && self.in_transaction.get() {
            self.failed.set(true);
        }
        Ok(r?)
    }

    fn statement(&self, sql: &'static str) -> Result<Statement, ApiError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.client.borrow_mut().prepare(&dialect::to_postgres(sql));
        let prepared = self.note(prepared)?;
        self.statements.borrow_mut().insert(sql, prepared.clone());
        Ok(prepared)
    }
}

/// Ends a transaction whose closure panicked, so the connection is usable again.
struct RollbackOnDrop<'a>(&'a PgDb);

impl Drop for RollbackOnDrop<'_> {
    fn drop(&mut self) {
        self.0.in_transaction.set(false);
        if let Ok(mut c) = self.0.client.try_borrow_mut() {
            let _ = c.batch_execute("ROLLBACK");
        }
    }
}

fn params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl PgDb {
    /// Runs a PostgreSQL-only query whose parameters need types [`Arg`] has not (arrays),
    /// calling `each` for every row.
    pub fn query_native(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        mut each: impl FnMut(&postgres::Row) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let stmt = self.statement(sql)?;
        let rows = self.client.borrow_mut().query(&stmt, params);
        for row in &self.note(rows)? {
            each(row)?;
        }
        Ok(())
    }
}

impl Db for PgDb {
    fn as_postgres(&self) -> Option<&PgDb> {
        Some(self)
    }

    fn execute(&self, sql: &'static str, args: &[Arg<'_>]) -> Result<usize, ApiError> {
        let stmt = self.statement(sql)?;
        let n = self.client.borrow_mut().execute(&stmt, &params(args));
        Ok(self.note(n)? as usize)
    }

    fn for_each(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> Result<ControlFlow<()>, ApiError>,
    ) -> Result<(), ApiError> {
        let stmt = self.statement(sql)?;
        // Fetched whole before `each` runs, so `each` may run statements of its own on
        // this connection (as it may on SQLite).
        let rows = self.client.borrow_mut().query(&stmt, &params(args));
        for row in &self.note(rows)? {
            if each(&Row::Pg(row))?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Integers bind to whichever integer (or boolean) type PostgreSQL inferred for the
/// parameter, text to text types, bytes to BYTEA. Any other pairing is a wrong-type error,
/// never raw bytes sent under the wrong type.
impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (*self, ty) {
            (Arg::Null, _) => Ok(IsNull::Yes),
            (Arg::Int(i), &Type::INT2) => i16::try_from(i)?.to_sql(ty, out),
            (Arg::Int(i), &Type::INT4) => i32::try_from(i)?.to_sql(ty, out),
            (Arg::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Arg::Int(i), &Type::BOOL) => (i != 0).to_sql(ty, out),
            (Arg::Text(t), &Type::TEXT | &Type::VARCHAR) => t.to_sql(ty, out),
            (Arg::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (value, ty) => Err(format!("cannot bind {value:?} to a {ty} parameter").into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::BYTEA
        )
    }

    postgres::types::to_sql_checked!();
}
