-- 0009_call_errors_column: calls.prompt_truncated marks a call whose provider reported fewer prompt
-- tokens than the request can possibly hold (a server that silently cuts a prompt longer than its
-- context; docs/llm.md). A failed call's http_status, attempts and latency_ms are its real ones.
ALTER TABLE calls ADD COLUMN prompt_truncated INTEGER NOT NULL DEFAULT 0;
