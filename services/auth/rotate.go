package auth

import (
	"context"
	"strconv"
	"strings"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
)

// sealedColumn is one column of sealed values and how to find its rows.
type sealedColumn struct {
	table, column string
	keys          []string // primary key columns
	aad           func(key []string) string
}

var sealedColumns = []sealedColumn{
	{"auth_credentials", "client_secret_enc", []string{"gstin", "irp"}, func(k []string) string { return credAAD(k[0], k[1], "client_secret") }},
	{"auth_credentials", "password_enc", []string{"gstin", "irp"}, func(k []string) string { return credAAD(k[0], k[1], "password") }},
	{"auth_sessions", "auth_token_enc", []string{"gstin", "irp"}, func(k []string) string { return sessionAAD(k[0], k[1], "auth_token") }},
	{"auth_sessions", "sek_enc", []string{"gstin", "irp"}, func(k []string) string { return sessionAAD(k[0], k[1], "sek") }},
	{"auth_settings", "value", []string{"name"}, func([]string) string { return signingKeyAAD }},
}

// RotateMasterKey implements authv1.AuthServiceServer. The new key must be
// in the key file next to the old one. New writes switch to it at once;
// every sealed value is then re-encrypted row by row (each update checks the
// old value, so concurrent writers are never overwritten). Reads keep
// working throughout because each value names its key. Calling it again
// re-encrypts anything a replica wrote under the old key meanwhile; the old
// key can leave the file once a call reports 0.
func (s *Service) RotateMasterKey(ctx context.Context, req *authv1.RotateMasterKeyRequest) (*authv1.RotateMasterKeyResponse, error) {
	if err := callerauth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	newID := strings.TrimSpace(req.GetNewKeyId())
	if newID == "" {
		return nil, invalidArgument("new_key_id", doc.ReasonRequired, "new_key_id is required")
	}
	if err := s.keys.reload(); err != nil {
		return nil, internal(ctx, s, "reload master key file", err)
	}
	if !s.keys.has(newID) {
		return nil, invalidArgument("new_key_id", doc.ReasonInvalidEnum, "key "+newID+" is not in the master key file")
	}
	if err := s.updateSetting(ctx, s.db, settingMasterKey, newID); err != nil {
		return nil, internal(ctx, s, "store active master key", err)
	}
	if err := s.keys.setActive(newID); err != nil {
		return nil, internal(ctx, s, "activate master key", err)
	}
	var total int64
	for _, col := range sealedColumns {
		n, err := s.reseal(ctx, col, newID)
		if err != nil {
			return nil, internal(ctx, s, "re-encrypt "+col.table+"."+col.column, err)
		}
		total += n
	}
	s.log.InfoContext(ctx, "auth: master key rotated", "active_key_id", newID, "secrets_reencrypted", total)
	return &authv1.RotateMasterKeyResponse{SecretsReencrypted: total, ActiveKeyId: newID}, nil
}

func (s *Service) reseal(ctx context.Context, col sealedColumn, newID string) (int64, error) {
	keyCols := strings.Join(col.keys, ", ")
	q := `SELECT ` + keyCols + `, ` + col.column + ` FROM ` + col.table + ` WHERE ` + col.column + ` <> ''`
	if col.table == "auth_settings" {
		q += ` AND name = '` + settingSigningKey + `'`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	type row struct {
		key    []string
		sealed string
	}
	var todo []row
	for rows.Next() {
		r := row{key: make([]string, len(col.keys))}
		dest := make([]any, 0, len(col.keys)+1)
		for i := range r.key {
			dest = append(dest, &r.key[i])
		}
		dest = append(dest, &r.sealed)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, err
		}
		if sealedKeyID(r.sealed) != newID {
			todo = append(todo, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var n int64
	for _, r := range todo {
		aad := col.aad(r.key)
		plain, err := s.keys.open(r.sealed, aad)
		if err != nil {
			return n, err
		}
		fresh, err := s.keys.seal(plain, aad)
		if err != nil {
			return n, err
		}
		where := ``
		args := []any{fresh, r.sealed}
		for i, k := range col.keys {
			where += ` AND ` + k + ` = $` + strconv.Itoa(3+i)
			args = append(args, r.key[i])
		}
		res, err := s.db.ExecContext(ctx, `UPDATE `+col.table+` SET `+col.column+` = $1 WHERE `+col.column+` = $2`+where, args...)
		if err != nil {
			return n, err
		}
		if c, _ := res.RowsAffected(); c == 1 {
			n++
		}
	}
	return n, nil
}
