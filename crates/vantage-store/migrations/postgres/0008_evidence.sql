-- Evidence of a finding also names the advisory that published the fix and how sure detection
-- is (high: the distribution's own data; medium: an upstream advisory's version range; low: a
-- network-identified product matched to NVD CPE ranges).
ALTER TABLE findings ADD COLUMN advisory TEXT;
ALTER TABLE findings ADD COLUMN confidence TEXT NOT NULL DEFAULT 'high';
