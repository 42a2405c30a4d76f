-- Which OSV records name which language package (ecosystem as OSV spells it, name as the
-- ecosystem compares names: PEP 503 for PyPI, lower case for NuGet and Packagist), so that
-- detection reads only the advisories about the packages an inventory holds. Written with the
-- records at import; filled here from the records already stored (a PyPI name with a run of
-- separators, `a__b`, is normalised by the next import of its record).
CREATE TABLE osv_packages (
    ecosystem TEXT NOT NULL,
    name      TEXT NOT NULL,
    vuln_id   TEXT NOT NULL,
    feed      TEXT NOT NULL,
    PRIMARY KEY (ecosystem, name, vuln_id, feed)
);
CREATE INDEX osv_packages_record ON osv_packages (vuln_id, feed);

INSERT INTO osv_packages (ecosystem, name, vuln_id, feed)
SELECT DISTINCT (a ->> 'ecosystem'),
       CASE (a ->> 'ecosystem')
           WHEN 'PyPI' THEN replace(replace(lower(trim((a ->> 'name'))), '_', '-'), '.', '-')
           WHEN 'NuGet' THEN lower(trim((a ->> 'name')))
           WHEN 'Packagist' THEN lower(trim((a ->> 'name')))
           ELSE trim((a ->> 'name'))
       END,
       r.vuln_id, r.feed
FROM vuln_records r, jsonb_array_elements(r.affected::jsonb) a
WHERE r.affected <> '[]'
  AND (a ->> 'ecosystem') IN ('npm', 'PyPI', 'crates.io', 'Maven', 'Go', 'RubyGems', 'NuGet', 'Packagist')
ON CONFLICT DO NOTHING;
