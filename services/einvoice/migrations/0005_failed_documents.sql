-- ListUnregisteredDocuments: a seller's FAILED documents, the most recently written first.
-- Only FAILED rows are in it: a registration passes through PENDING, and indexing that
-- would cost every registration two index writes.
CREATE INDEX einvoice_documents_seller_failed ON einvoice_documents (seller_gstin, updated_at, fy, doc_type, doc_no) WHERE state = 'FAILED';
