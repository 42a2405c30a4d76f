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

INSERT INTO cpe_products (vendor, product, vuln_id, feed)
SELECT DISTINCT lower(split_part(m ->> 'criteria', ':', 4)),
       lower(split_part(m ->> 'criteria', ':', 5)),
       r.vuln_id, r.feed
FROM vuln_records r, jsonb_array_elements(r.cpe_matches::jsonb) m
WHERE r.cpe_matches <> '[]' AND (m ->> 'vulnerable')::boolean
  AND (m ->> 'criteria') LIKE 'cpe:2.3:_:%'
  AND split_part(m ->> 'criteria', ':', 4) <> ''
ON CONFLICT DO NOTHING;
