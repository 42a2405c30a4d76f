-- OSV: affected packages with their version ranges, as JSON of the record (read with it).
ALTER TABLE vuln_records ADD COLUMN affected TEXT NOT NULL DEFAULT '[]';
