package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Additional data binding each sealed column to its row, so a ciphertext
// copied into another row or column does not decrypt.
func credAAD(gstin, irp, column string) string {
	return "auth_credentials|" + gstin + "|" + irp + "|" + column
}

func sessionAAD(gstin, irp, column string) string {
	return "auth_sessions|" + gstin + "|" + irp + "|" + column
}

func normGSTIN(g string) string { return strings.ToUpper(strings.TrimSpace(g)) }

// normIRP upper-cases the IRP name; empty means the client's default IRP.
func (s *Service) normIRP(irp string) string {
	irp = strings.ToUpper(strings.TrimSpace(irp))
	if irp == "" {
		if c, ok := s.irp.(*irpclient.Client); ok && c != nil {
			return c.DefaultIRP()
		}
	}
	return irp
}

func (s *Service) checkKey(gstin, irp string) error {
	if !gstinPattern.MatchString(gstin) {
		return invalidArgument("gstin", doc.ReasonInvalidFormat, "gstin must be a 15-character GSTIN")
	}
	if irp == "" {
		return invalidArgument("irp", doc.ReasonRequired, "irp is required (NIC1, NIC2, ...)")
	}
	return nil
}

// credentialViolations lists everything wrong with a credential to register, at once: the
// GSTIN's form, an IRP this process can reach, and the four required fields.
func (s *Service) credentialViolations(gstin, irp string, req *authv1.RegisterCredentialRequest) []platform.FieldViolation {
	var vs []platform.FieldViolation
	if !gstinPattern.MatchString(gstin) {
		vs = append(vs, platform.FieldViolation{
			Field: "gstin", Reason: doc.ReasonInvalidFormat,
			Description: "gstin must be a 15-character GSTIN",
		})
	}
	c, _ := s.irp.(*irpclient.Client)
	switch {
	case irp == "":
		vs = append(vs, platform.FieldViolation{
			Field: "irp", Reason: doc.ReasonRequired,
			Description: "irp is required (NIC1, NIC2, ...)",
		})
	case c != nil && !slices.Contains(c.IRPs(), irp):
		// Credentials for an IRP without a base URL could never be used.
		vs = append(vs, platform.FieldViolation{
			Field: "irp", Reason: doc.ReasonInvalidEnum,
			Description: "irp " + irp + " is not an IRP irpgate is configured for (" + strings.Join(c.IRPs(), ", ") + "; see --irp-urls)",
		})
	}
	for _, f := range []struct{ field, value string }{
		{"client_id", req.GetClientId()},
		{"client_secret", req.GetClientSecret()},
		{"username", req.GetUsername()},
		{"password", req.GetPassword()},
	} {
		if strings.TrimSpace(f.value) == "" {
			vs = append(vs, platform.FieldViolation{Field: f.field, Reason: doc.ReasonRequired, Description: f.field + " is required"})
		}
	}
	return vs
}

// RegisterCredential implements authv1.AuthServiceServer.
func (s *Service) RegisterCredential(ctx context.Context, req *authv1.RegisterCredentialRequest) (*authv1.RegisterCredentialResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	gstin, irp := normGSTIN(req.GetGstin()), s.normIRP(req.GetIrp())
	if vs := s.credentialViolations(gstin, irp, req); len(vs) > 0 {
		return nil, platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST,
			"the credential is invalid", nil, vs...).Err()
	}
	secret, err := s.keys.seal([]byte(req.GetClientSecret()), credAAD(gstin, irp, "client_secret"))
	if err != nil {
		return nil, internal(ctx, s, "seal client secret", err)
	}
	password, err := s.keys.seal([]byte(req.GetPassword()), credAAD(gstin, irp, "password"))
	if err != nil {
		return nil, internal(ctx, s, "seal password", err)
	}
	now := s.now().UnixMilli()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		// New credentials may be another API user: the old session is not theirs.
		if _, err := tx.ExecContext(ctx, `DELETE FROM auth_sessions WHERE gstin = $1 AND irp = $2`, gstin, irp); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_credentials
			(gstin, irp, client_id, client_secret_enc, username, password_enc, created_ms, updated_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
			ON CONFLICT (gstin, irp) DO UPDATE SET client_id = excluded.client_id,
				client_secret_enc = excluded.client_secret_enc, username = excluded.username,
				password_enc = excluded.password_enc, updated_ms = excluded.updated_ms`,
			gstin, irp, strings.TrimSpace(req.GetClientId()), secret, strings.TrimSpace(req.GetUsername()), password, now)
		return err
	})
	if err != nil {
		return nil, internal(ctx, s, "store credentials", err)
	}
	s.sessions.forget(gstin, irp)
	info, err := s.credentialInfo(ctx, gstin, irp)
	if err != nil {
		return nil, err
	}
	return &authv1.RegisterCredentialResponse{Credential: info}, nil
}

//nolint:gosec // G101: a SQL query naming columns, not a credential (the secrets are not selected)
const credInfoQuery = `SELECT c.gstin, c.irp, c.client_id, c.username, c.created_ms, c.updated_ms, COALESCE(s.expire_ms, 0)
	FROM auth_credentials c LEFT JOIN auth_sessions s ON s.gstin = c.gstin AND s.irp = c.irp`

func (s *Service) scanCredInfo(r scanner) (*authv1.CredentialInfo, error) {
	var info authv1.CredentialInfo
	var created, updated, expire int64
	if err := r.Scan(&info.Gstin, &info.Irp, &info.ClientId, &info.Username, &created, &updated, &expire); err != nil {
		return nil, err
	}
	info.CreatedTime = timestamppb.New(time.UnixMilli(created))
	info.UpdatedTime = timestamppb.New(time.UnixMilli(updated))
	if expire > 0 && time.UnixMilli(expire).After(s.now()) {
		info.SessionExpireTime = timestamppb.New(time.UnixMilli(expire))
	}
	return &info, nil
}

func (s *Service) credentialInfo(ctx context.Context, gstin, irp string) (*authv1.CredentialInfo, error) {
	info, err := s.scanCredInfo(s.db.QueryRowContext(ctx, credInfoQuery+` WHERE c.gstin = $1 AND c.irp = $2`, gstin, irp))
	if store.IsNotFound(err) {
		return nil, notFound("credentials of " + gstin + " on " + irp)
	}
	if err != nil {
		return nil, internal(ctx, s, "read credentials", err)
	}
	return info, nil
}

// ListCredentials implements authv1.AuthServiceServer. No secret column is read.
func (s *Service) ListCredentials(ctx context.Context, req *authv1.ListCredentialsRequest) (*authv1.ListCredentialsResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	q := credInfoQuery
	var args []any
	if g := normGSTIN(req.GetGstin()); g != "" {
		q += ` WHERE c.gstin = $1`
		args = append(args, g)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY c.gstin, c.irp`, args...)
	if err != nil {
		return nil, internal(ctx, s, "list credentials", err)
	}
	defer rows.Close()
	out := &authv1.ListCredentialsResponse{}
	for rows.Next() {
		info, err := s.scanCredInfo(rows)
		if err != nil {
			return nil, internal(ctx, s, "list credentials", err)
		}
		out.Credentials = append(out.Credentials, info)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(ctx, s, "list credentials", err)
	}
	return out, nil
}

// RotateCredential implements authv1.AuthServiceServer. The live session is
// kept: NIC tokens outlive a password change, and the next authentication
// uses the new secret.
func (s *Service) RotateCredential(ctx context.Context, req *authv1.RotateCredentialRequest) (*authv1.RotateCredentialResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	gstin, irp := normGSTIN(req.GetGstin()), s.normIRP(req.GetIrp())
	if err := s.checkKey(gstin, irp); err != nil {
		return nil, err
	}
	if req.GetPassword() == "" && req.GetClientSecret() == "" {
		return nil, invalidArgument("password", doc.ReasonRequired, "give a new password and/or client_secret")
	}
	now := s.now().UnixMilli()
	var affected int64
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, col := range []struct{ name, value string }{{"password", req.GetPassword()}, {"client_secret", req.GetClientSecret()}} {
			if col.value == "" {
				continue
			}
			sealed, err := s.keys.seal([]byte(col.value), credAAD(gstin, irp, col.name))
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE auth_credentials SET `+col.name+`_enc = $1, updated_ms = $2 WHERE gstin = $3 AND irp = $4`,
				sealed, now, gstin, irp)
			if err != nil {
				return err
			}
			affected, _ = res.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return nil, internal(ctx, s, "rotate credentials", err)
	}
	if affected == 0 {
		return nil, notFound("credentials of " + gstin + " on " + irp)
	}
	info, err := s.credentialInfo(ctx, gstin, irp)
	if err != nil {
		return nil, err
	}
	return &authv1.RotateCredentialResponse{Credential: info}, nil
}

// DeleteCredential implements authv1.AuthServiceServer.
func (s *Service) DeleteCredential(ctx context.Context, req *authv1.DeleteCredentialRequest) (*authv1.DeleteCredentialResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	gstin, irp := normGSTIN(req.GetGstin()), s.normIRP(req.GetIrp())
	var affected int64
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM auth_sessions WHERE gstin = $1 AND irp = $2`, gstin, irp); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM auth_credentials WHERE gstin = $1 AND irp = $2`, gstin, irp)
		if err != nil {
			return err
		}
		affected, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return nil, internal(ctx, s, "delete credentials", err)
	}
	s.sessions.forget(gstin, irp)
	if affected == 0 {
		return nil, notFound("credentials of " + gstin + " on " + irp)
	}
	return &authv1.DeleteCredentialResponse{}, nil
}

// loadCredentials reads and opens the credentials of a GSTIN on an IRP.
func (s *Service) loadCredentials(ctx context.Context, gstin, irp string) (irpclient.Credentials, error) {
	var cr irpclient.Credentials
	var secret, password string
	err := s.db.QueryRowContext(ctx, `SELECT client_id, client_secret_enc, username, password_enc
		FROM auth_credentials WHERE gstin = $1 AND irp = $2`, gstin, irp).Scan(&cr.ClientID, &secret, &cr.UserName, &password)
	if store.IsNotFound(err) {
		return cr, errCredentialsMissing
	}
	if err != nil {
		return cr, err
	}
	sec, err := s.keys.open(secret, credAAD(gstin, irp, "client_secret"))
	if err != nil {
		return cr, err
	}
	pw, err := s.keys.open(password, credAAD(gstin, irp, "password"))
	if err != nil {
		return cr, err
	}
	cr.GSTIN, cr.IRP, cr.ClientSecret, cr.Password = gstin, irp, string(sec), string(pw)
	return cr, nil
}
