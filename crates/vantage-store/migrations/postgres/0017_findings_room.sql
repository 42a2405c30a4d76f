-- A re-scan rewrites every finding it sees again (last_seen; new → open). With room for one new
-- row version on the same page, and no indexed column changed, PostgreSQL updates in place
-- (HOT: one WAL record, no index entry) instead of moving the row and inserting into all eight
-- indexes: 4–6× faster measured on 2,000,000 findings (docs/BENCHMARKS.md#continuous). 80 left
-- room for about a fifth of a page's rows. Applies to pages written from now on; an existing
-- large table gets it at its next `VACUUM FULL findings` (docs/CONTINUOUS.md).
ALTER TABLE findings SET (fillfactor = 50);
