-- ListIrns: a seller's registrations by AckDt (yyyy-MM-dd HH:mm:ss sorts as text), newest
-- first, with the IRN to keep pages apart where AckDt is the same.
CREATE INDEX einvoice_documents_seller_ack ON einvoice_documents (seller_gstin, ack_dt, irn);
