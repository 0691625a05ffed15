// @ddia/document-db: Chapter 2: a document database with MongoDB's query language, indexes and wire protocol.
export {};
