-- Every history row paid for indexes no query reads (issue 22; EXPLAIN plans of the queries that
-- remain in docs/benchmarks.md "History row cost"): the history list filters by line_number
-- (bill_inquiry_history_line_idx), the result look-up by request_id (the primary key), the
-- hourly purge by requested_at where bill_info is set (the partial index), the KOS call list by
-- request_id (kos_call_log_request_idx). Nothing filters by user_id or status alone, and nothing
-- reads kos_call_log by called_at; a retention job that deletes by called_at would add its index
-- back with it.
DROP INDEX IF EXISTS bill_inquiry_history_user_idx;
DROP INDEX IF EXISTS bill_inquiry_history_status_idx;
DROP INDEX IF EXISTS kos_call_log_called_idx;
