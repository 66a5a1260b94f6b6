-- The ListIrns index holds only registered documents (those with an AckDt), the only ones
-- ListIrns shows. A document is claimed PENDING with no AckDt: leaving it out of the index
-- spares that INSERT an index write, and the signed answer's UPDATE then adds the entry
-- once instead of moving it from '' to its AckDt.
DROP INDEX einvoice_documents_seller_ack;
CREATE INDEX einvoice_documents_seller_ack ON einvoice_documents (seller_gstin, ack_dt, irn) WHERE ack_dt <> '';
