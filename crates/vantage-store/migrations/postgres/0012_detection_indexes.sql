-- Incremental re-detection reads, across every host of a release, only the packages a changed
-- advisory names and only the findings on those components: both lookups lead with the name.
CREATE INDEX packages_by_name ON packages (name, asset_id);
CREATE INDEX packages_by_source ON packages (source_name, asset_id);
CREATE INDEX findings_by_component ON findings (component, asset_id) WHERE component_kind = 'package';
