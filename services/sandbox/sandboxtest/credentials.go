package sandboxtest

import (
	"fmt"

	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/sandbox"
)

// Credentials returns the credentials function of irpclient.NewLocalSessions for the
// sandbox's API users: each GSTIN's user, on whichever IRP is asked for.
func Credentials(users []sandbox.User) func(gstin, irp string) (irpclient.Credentials, error) {
	return func(gstin, irp string) (irpclient.Credentials, error) {
		for _, u := range users {
			if u.GSTIN == gstin {
				return irpclient.Credentials{
					GSTIN: u.GSTIN, IRP: irp, ClientID: u.ClientID,
					ClientSecret: u.ClientSecret, UserName: u.UserName, Password: u.Password,
				}, nil
			}
		}
		return irpclient.Credentials{}, fmt.Errorf("no sandbox user for %s", gstin)
	}
}

// Credentials is Credentials(s.Users()).
func (s *Server) Credentials() func(gstin, irp string) (irpclient.Credentials, error) {
	return Credentials(s.Users())
}
