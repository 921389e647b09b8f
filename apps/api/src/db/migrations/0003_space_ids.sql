-- Every space gets a stable UUID: OpenFn addresses its projects (our spaces) by one
-- (`?project_id=`), and a project moved from Lightning keeps the id its workflows already send.
ALTER TABLE spaces ADD COLUMN uuid uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE spaces ADD CONSTRAINT spaces_uuid_key UNIQUE (uuid);

-- OpenFn resolves a collection by its name across every project.
CREATE INDEX collections_name ON collections (name);
