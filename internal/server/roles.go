package server

import (
	"context"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	ewaybillv1 "github.com/irpgate/irpgate/gen/go/irpgate/ewaybill/v1"
	gstinv1 "github.com/irpgate/irpgate/gen/go/irpgate/gstin/v1"
	"github.com/irpgate/irpgate/internal/platform"
)

// deps holds what roles share inside one process (stores, IRP client,
// caller-auth verifier), built lazily by the roles that need them.
type deps struct {
	s *Server
}

func (d *deps) authenticator() platform.Authenticator { return nil }

func (s *Server) startSandbox(ctx context.Context, d *deps) error {
	return nil
}

// registerServices puts this process's services on its gRPC server. RPCs of
// roles not built yet answer UNIMPLEMENTED (HTTP 501).
func (s *Server) registerServices(ctx context.Context, d *deps) error {
	if s.has(RoleAuth) {
		authv1.RegisterAuthServiceServer(s.grpc, authv1.UnimplementedAuthServiceServer{})
	}
	if s.has(RoleEInvoice) {
		einvoicev1.RegisterEInvoiceServiceServer(s.grpc, einvoicev1.UnimplementedEInvoiceServiceServer{})
	}
	if s.has(RoleEwayBill) {
		ewaybillv1.RegisterEwayBillServiceServer(s.grpc, ewaybillv1.UnimplementedEwayBillServiceServer{})
	}
	if s.has(RoleGstin) {
		gstinv1.RegisterGstinServiceServer(s.grpc, gstinv1.UnimplementedGstinServiceServer{})
	}
	return nil
}
