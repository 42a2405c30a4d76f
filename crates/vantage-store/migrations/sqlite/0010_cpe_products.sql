-- Which NVD records name which product (CPE vendor and product of a vulnerable criterion), so
-- that judging a product seen on the network reads only the records about it. Written with the
-- records at import; filled here from the records already stored.
CREATE TABLE cpe_products (
    vendor  TEXT NOT NULL,
    product TEXT NOT NULL,
    vuln_id TEXT NOT NULL,
    feed    TEXT NOT NULL,
    PRIMARY KEY (vendor, product, vuln_id, feed)
);
CREATE INDEX cpe_products_record ON cpe_products (vuln_id, feed);

-- `cpe:2.3:a:` is ten characters: the vendor starts at the eleventh.
INSERT INTO cpe_products (vendor, product, vuln_id, feed)
SELECT DISTINCT lower(substr(rest, 1, instr(rest, ':') - 1)),
       lower(substr(substr(rest, instr(rest, ':') + 1), 1,
                    instr(substr(rest, instr(rest, ':') + 1), ':') - 1)),
       vuln_id, feed
FROM (SELECT r.vuln_id, r.feed, substr(json_extract(m.value, '$.criteria'), 11) AS rest
      FROM vuln_records r, json_each(r.cpe_matches) m
      WHERE r.cpe_matches <> '[]' AND json_extract(m.value, '$.vulnerable')
        AND json_extract(m.value, '$.criteria') LIKE 'cpe:2.3:_:%') t
WHERE instr(rest, ':') > 1
ON CONFLICT DO NOTHING;
