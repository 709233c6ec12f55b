//! The SQL of [`super::UserStore`], written once with `$N` placeholders (sqlx binds them by
//! number on both databases) and expanded per dialect by `impl_user_store!`. The invoking
//! module brings the dialect's names into scope with
//! `use phonebill_common::db::dialect::<dialect>::*` (`DbRow`, `BEGIN_WRITE`, `bt`/`bu`,
//! `gt`/`gto`/`gu`) and has a `pool` field.

macro_rules! impl_user_store {
    ($store:ty) => {
        const USER_COLS: &str = "user_id, customer_id, line_number, user_name, password_hash, \
            account_status, failed_login_count, locked_until, last_login_at, \
            last_password_changed_at, created_at";

        fn user_from_row(row: &DbRow) -> Result<UserRecord, StoreError> {
            Ok(UserRecord {
                user_id: row.try_get("user_id")?,
                customer_id: row.try_get("customer_id")?,
                line_number: row.try_get::<String, _>("line_number")?.trim().to_owned(),
                user_name: row.try_get("user_name")?,
                password_hash: row.try_get("password_hash")?,
                account_status: row.try_get("account_status")?,
                failed_login_count: row.try_get("failed_login_count")?,
                locked_until: gto(row, "locked_until")?,
                last_login_at: gto(row, "last_login_at")?,
                last_password_changed_at: gto(row, "last_password_changed_at")?,
                created_at: gt(row, "created_at")?,
                permissions: Vec::new(),
            })
        }

        /// Stores `token_hash` as a refresh token of session `s`, issued `now` and valid as long as
        /// the session: the one INSERT of a token, at login and at a rotation on SQLite.
        async fn insert_refresh_token(
            conn: &mut <DB as sqlx::Database>::Connection,
            token_hash: &str,
            s: &SessionRecord,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO auth_refresh_tokens (token_hash, session_id, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(bu(s.session_id))
            .bind(bt(now))
            .bind(bt(s.expires_at))
            .execute(conn)
            .await?;
            Ok(())
        }

        fn session_from_row(row: &DbRow) -> Result<SessionRecord, StoreError> {
            Ok(SessionRecord {
                session_id: gu(row, "session_id")?,
                user_id: row.try_get("user_id")?,
                auto_login: row.try_get("auto_login")?,
                expires_at: gt(row, "expires_at")?,
                revoked_at: gto(row, "revoked_at")?,
            })
        }

        impl $store {
            async fn with_permissions(
                &self,
                user: Option<UserRecord>,
            ) -> Result<Option<UserRecord>, StoreError> {
                let Some(mut user) = user else {
                    return Ok(None);
                };
                user.permissions = sqlx::query_scalar::<_, String>(
                    "SELECT permission_code FROM auth_user_permissions WHERE user_id = $1 \
                     ORDER BY permission_code",
                )
                .bind(&user.user_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some(user))
            }

            async fn user_where(
                &self,
                cond: &str,
                value: &str,
            ) -> Result<Option<UserRecord>, StoreError> {
                let q = format!(
                    "SELECT {USER_COLS} FROM auth_users WHERE {cond} ORDER BY user_id LIMIT 1"
                );
                let row = sqlx::query(&q)
                    .bind(value)
                    .fetch_optional(&self.pool)
                    .await?;
                let user = row.as_ref().map(user_from_row).transpose()?;
                self.with_permissions(user).await
            }
        }

        #[async_trait::async_trait]
        impl UserStore for $store {
            async fn find_user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
                // User ids are unique without regard to case (migration 0002).
                self.user_where("lower(user_id) = lower($1)", user_id).await
            }

            async fn find_user_by_line(
                &self,
                line: &str,
            ) -> Result<Option<UserRecord>, StoreError> {
                self.user_where("line_number = CAST($1 AS bpchar)", line).await
            }

            async fn find_user_by_customer(
                &self,
                customer_id: &str,
            ) -> Result<Option<UserRecord>, StoreError> {
                self.user_where("customer_id = $1", customer_id).await
            }

            async fn list_users(
                &self,
                offset: i64,
                limit: i64,
            ) -> Result<Vec<UserRecord>, StoreError> {
                let q = format!(
                    "SELECT {USER_COLS} FROM auth_users ORDER BY user_id LIMIT $1 OFFSET $2"
                );
                let rows = sqlx::query(&q)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?;
                let mut users = rows
                    .iter()
                    .map(user_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                let perms: Vec<(String, String)> = sqlx::query_as(
                    "SELECT up.user_id, up.permission_code FROM auth_user_permissions up \
                     JOIN (SELECT user_id FROM auth_users ORDER BY user_id LIMIT $1 OFFSET $2) u \
                     ON u.user_id = up.user_id ORDER BY up.user_id, up.permission_code",
                )
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
                for (uid, code) in perms {
                    if let Some(u) = users.iter_mut().find(|u| u.user_id == uid) {
                        u.permissions.push(code);
                    }
                }
                Ok(users)
            }

            async fn create_user(
                &self,
                user: &NewUser,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                // Reads before the insert: on SQLite the transaction must take the write lock
                // up front (`BEGIN_WRITE`), or a concurrent registration that commits between
                // our read and our insert makes SQLite fail the upgrade at once with "database
                // is locked" (no busy wait applies to a stale WAL snapshot).
                let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
                let taken: Option<String> = sqlx::query_scalar(
                    "SELECT user_id FROM auth_users WHERE lower(user_id) = lower($1)",
                )
                .bind(&user.user_id)
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_some() {
                    return Err(StoreError::UserExists);
                }
                let line_taken: Option<String> = sqlx::query_scalar(
                    "SELECT user_id FROM auth_users WHERE line_number = CAST($1 AS bpchar)",
                )
                .bind(&user.line_number)
                .fetch_optional(&mut *tx)
                .await?;
                if line_taken.is_some() {
                    return Err(StoreError::LineExists);
                }
                // One account per customer (issue 17 finding 3): a token's customer id must
                // name one person, or `/users/by-customer` hands out another's profile.
                let customer_taken: Option<String> = sqlx::query_scalar(
                    "SELECT user_id FROM auth_users WHERE customer_id = $1 LIMIT 1",
                )
                .bind(&user.customer_id)
                .fetch_optional(&mut *tx)
                .await?;
                if customer_taken.is_some() {
                    return Err(StoreError::CustomerExists);
                }
                let inserted = sqlx::query(
                    "INSERT INTO auth_users (user_id, customer_id, line_number, user_name, \
                     password_hash, account_status, failed_login_count, last_password_changed_at, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', 0, $6, $6, $6)",
                )
                .bind(&user.user_id)
                .bind(&user.customer_id)
                .bind(&user.line_number)
                .bind(&user.user_name)
                .bind(&user.password_hash)
                .bind(bt(now))
                .execute(&mut *tx)
                .await;
                if let Err(e) = inserted {
                    // A concurrent registration won the race.
                    if e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
                        return Err(StoreError::UserExists);
                    }
                    return Err(e.into());
                }
                for code in &user.permissions {
                    sqlx::query(
                        "INSERT INTO auth_user_permissions (user_id, permission_code, granted_by, \
                         granted_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&user.user_id)
                    .bind(code)
                    .bind(&user.granted_by)
                    .bind(bt(now))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn reset_lock(
                &self,
                user_id: &str,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let r = sqlx::query(
                    "UPDATE auth_users SET failed_login_count = 0, locked_until = NULL, \
                     updated_at = $2 WHERE lower(user_id) = lower($1)",
                )
                .bind(user_id)
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn record_failure(
                &self,
                user_id: &str,
                max: i32,
                lock_until: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> Result<Option<(i32, Option<DateTime<Utc>>)>, StoreError> {
                let row = sqlx::query(
                    "UPDATE auth_users SET failed_login_count = failed_login_count + 1, \
                     locked_until = CASE WHEN failed_login_count + 1 >= $2 THEN $3 \
                     ELSE locked_until END, updated_at = $4 WHERE lower(user_id) = lower($1) \
                     RETURNING failed_login_count, locked_until",
                )
                .bind(user_id)
                .bind(max)
                .bind(bt(lock_until))
                .bind(bt(now))
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    None => Ok(None),
                    Some(r) => Ok(Some((
                        r.try_get("failed_login_count")?,
                        gto(&r, "locked_until")?,
                    ))),
                }
            }

            async fn record_success(
                &self,
                user_id: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE auth_users SET failed_login_count = 0, locked_until = NULL, \
                     last_login_at = $2, updated_at = $2 WHERE lower(user_id) = lower($1)",
                )
                .bind(user_id)
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn set_password(
                &self,
                user_id: &str,
                hash: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE auth_users SET password_hash = $2, last_password_changed_at = $3, \
                     failed_login_count = 0, locked_until = NULL, updated_at = $3 \
                     WHERE lower(user_id) = lower($1)",
                )
                .bind(user_id)
                .bind(hash)
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn grant_permission(
                &self,
                user_id: &str,
                code: &str,
                granted_by: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO auth_user_permissions (user_id, permission_code, granted_by, \
                     granted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(code)
                .bind(granted_by)
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn revoke_permission(&self, user_id: &str, code: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "DELETE FROM auth_user_permissions WHERE user_id = $1 AND permission_code = $2",
                )
                .bind(user_id)
                .bind(code)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn add_login_history(
                &self,
                user_id: &str,
                result: &str,
                client_ip: Option<&str>,
                user_agent: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let user_id: String = user_id.chars().take(20).collect();
                let ua: Option<String> = user_agent.map(|u| u.chars().take(512).collect());
                sqlx::query(
                    "INSERT INTO auth_login_history (user_id, result, client_ip, user_agent, \
                     attempted_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(user_id)
                .bind(result)
                .bind(client_ip)
                .bind(ua)
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn create_session(
                &self,
                s: &SessionRecord,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO auth_sessions (session_id, user_id, auto_login, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(bu(s.session_id))
                .bind(&s.user_id)
                .bind(s.auto_login)
                .bind(bt(now))
                .bind(bt(s.expires_at))
                .execute(&mut *tx)
                .await?;
                insert_refresh_token(&mut tx, token_hash, s, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_refresh(
                &self,
                token_hash: &str,
            ) -> Result<Option<RefreshRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT r.used_at, r.expires_at AS token_expires_at, s.session_id, s.user_id, \
                     s.auto_login, s.expires_at, s.revoked_at FROM auth_refresh_tokens r \
                     JOIN auth_sessions s ON s.session_id = r.session_id \
                     WHERE r.token_hash = CAST($1 AS bpchar)",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(RefreshRecord {
                    session: session_from_row(&row)?,
                    used_at: gto(&row, "used_at")?,
                    expires_at: gt(&row, "token_expires_at")?,
                }))
            }

            async fn rotate_refresh(
                &self,
                old_hash: &str,
                new_hash: &str,
                s: &SessionRecord,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                // One statement on PostgreSQL, a transaction on SQLite (postgres.rs, sqlite.rs).
                self.rotate(old_hash, new_hash, s, now).await
            }

            async fn revoke_session(
                &self,
                session_id: Uuid,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<Option<SessionRecord>, StoreError> {
                let row = sqlx::query(
                    "UPDATE auth_sessions SET revoked_at = COALESCE(revoked_at, $2), \
                     revoke_reason = COALESCE(revoke_reason, $3) WHERE session_id = $1 \
                     RETURNING session_id, user_id, auto_login, expires_at, revoked_at",
                )
                .bind(bu(session_id))
                .bind(bt(now))
                .bind(reason)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(session_from_row).transpose()
            }

            async fn revoke_user_sessions(
                &self,
                user_id: &str,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<Vec<SessionRecord>, StoreError> {
                let rows = sqlx::query(
                    "UPDATE auth_sessions SET revoked_at = $2, revoke_reason = $3 \
                     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     RETURNING session_id, user_id, auto_login, expires_at, revoked_at",
                )
                .bind(user_id)
                .bind(bt(now))
                .bind(reason)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(session_from_row).collect()
            }

            async fn put_verification(&self, v: &LineVerification) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO auth_line_verifications (line_number, customer_id, code_hash, \
                     salt, attempts_left, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (line_number) DO UPDATE SET customer_id = excluded.customer_id, \
                     code_hash = excluded.code_hash, salt = excluded.salt, \
                     attempts_left = excluded.attempts_left, created_at = excluded.created_at, \
                     expires_at = excluded.expires_at",
                )
                .bind(&v.line_number)
                .bind(&v.customer_id)
                .bind(&v.code_hash)
                .bind(&v.salt)
                .bind(v.attempts_left)
                .bind(bt(v.created_at))
                .bind(bt(v.expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_verification(
                &self,
                line: &str,
            ) -> Result<Option<LineVerification>, StoreError> {
                let row = sqlx::query(
                    "SELECT line_number, customer_id, code_hash, salt, attempts_left, created_at, \
                     expires_at FROM auth_line_verifications \
                     WHERE line_number = CAST($1 AS bpchar)",
                )
                .bind(line)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(LineVerification {
                    line_number: row.try_get::<String, _>("line_number")?.trim().to_owned(),
                    customer_id: row.try_get("customer_id")?,
                    code_hash: row.try_get::<String, _>("code_hash")?.trim().to_owned(),
                    salt: row.try_get::<String, _>("salt")?.trim().to_owned(),
                    attempts_left: row.try_get("attempts_left")?,
                    created_at: gt(&row, "created_at")?,
                    expires_at: gt(&row, "expires_at")?,
                }))
            }

            async fn spend_verification_attempt(
                &self,
                line: &str,
            ) -> Result<Option<i32>, StoreError> {
                // The conditional UPDATE is the arbiter: concurrent guesses cannot spend more
                // tries than there are.
                let left: Option<i32> = sqlx::query_scalar(
                    "UPDATE auth_line_verifications SET attempts_left = attempts_left - 1 \
                     WHERE line_number = CAST($1 AS bpchar) AND attempts_left > 0 \
                     RETURNING attempts_left",
                )
                .bind(line)
                .fetch_optional(&self.pool)
                .await?;
                Ok(left)
            }

            async fn delete_verification(&self, line: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "DELETE FROM auth_line_verifications WHERE line_number = CAST($1 AS bpchar)",
                )
                .bind(line)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn purge_expired(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
                let mut tx = self.pool.begin().await?;
                // Tokens first (an expired token of a live session goes too), then the sessions;
                // nothing relies on ON DELETE CASCADE being enabled on the connection.
                let tokens = sqlx::query(
                    "DELETE FROM auth_refresh_tokens WHERE expires_at < $1 OR session_id IN \
                     (SELECT session_id FROM auth_sessions WHERE expires_at < $1)",
                )
                .bind(bt(before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let sessions = sqlx::query("DELETE FROM auth_sessions WHERE expires_at < $1")
                    .bind(bt(before))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                // Codes live minutes; whatever expired before `before` is of no use.
                sqlx::query("DELETE FROM auth_line_verifications WHERE expires_at < $1")
                    .bind(bt(before))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((sessions, tokens))
            }
        }
    };
}
