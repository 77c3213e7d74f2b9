-- Knowledge bases: folders of documents ingested as chunks with their embeddings, searched by
-- agents during calls. A document is re-read only when its content digest changes.
CREATE TABLE knowledge_bases (
    kb_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    -- sha256 over the documents' sources and digests and the embedding model: equal versions,
    -- equal chunks. Callers cache a loaded index under it.
    version     text NOT NULL,
    -- The embedding model the chunks' vectors come from; another model re-embeds everything.
    model       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE knowledge_documents (
    document_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kb_id       bigint NOT NULL REFERENCES knowledge_bases (kb_id) ON DELETE CASCADE,
    -- The file's path relative to the folder ingested, with forward slashes.
    source      text NOT NULL,
    -- sha256 of the file's bytes.
    digest      text NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kb_id, source)
);

CREATE TABLE knowledge_chunks (
    chunk_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id bigint NOT NULL REFERENCES knowledge_documents (document_id) ON DELETE CASCADE,
    ord         integer NOT NULL CHECK (ord >= 0),
    heading     text NOT NULL,
    text        text NOT NULL,
    -- The embedding as little-endian float16: 768 bytes for 384 dimensions.
    embedding   bytea NOT NULL,
    UNIQUE (document_id, ord)
);
