package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MasterKeyFileEnv names the master key file when Config.MasterKeyFile is empty.
const MasterKeyFileEnv = "IRPGATE_MASTER_KEY_FILE"

// masterKeyFileName is the embedded default's key file in the data directory.
const masterKeyFileName = "master.key"

// sealPrefix starts every ciphertext the vault stores: version and key id
// travel with the data, so keys can be rotated while replicas keep reading.
const sealPrefix = "mk1:"

var errUnknownMasterKey = errors.New("auth: secret is sealed with a master key that is not in the key file")

// keyring holds the master keys from the key file. A file lists one key per
// line, either "<id> <base64 32 bytes>" or just the base64 key (its id is
// derived from its hash); '#' starts a comment. The last key listed is the
// one a fresh database starts with.
type keyring struct {
	path string

	mu     sync.RWMutex
	keys   map[string]cipher.AEAD
	order  []string
	active string
}

func loadKeyring(path string) (*keyring, error) {
	kr := &keyring{path: path}
	if err := kr.reload(); err != nil {
		return nil, err
	}
	return kr, nil
}

func (kr *keyring) reload() error {
	b, err := os.ReadFile(kr.path)
	if err != nil {
		return fmt.Errorf("auth: read master key file: %w", err)
	}
	keys := map[string]cipher.AEAD{}
	var order []string
	for n, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var id, enc string
		switch len(fields) {
		case 1:
			enc = fields[0]
		case 2:
			id, enc = fields[0], fields[1]
		default:
			return fmt.Errorf("auth: master key file line %d: want \"<id> <base64 key>\"", n+1)
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(raw) != 32 {
			// Never quote the line: it is key material.
			return fmt.Errorf("auth: master key file line %d: not a base64 32-byte key", n+1)
		}
		if id == "" {
			sum := sha256.Sum256(raw)
			id = "mk-" + hex.EncodeToString(sum[:4])
		}
		if strings.ContainsAny(id, ": ") {
			return fmt.Errorf("auth: master key file line %d: key id %q may not hold ':'", n+1, id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return err
		}
		if _, dup := keys[id]; dup {
			return fmt.Errorf("auth: master key file: key id %q listed twice", id)
		}
		keys[id] = aead
		order = append(order, id)
	}
	if len(order) == 0 {
		return errors.New("auth: master key file holds no key")
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	kr.keys, kr.order = keys, order
	if kr.active == "" {
		kr.active = order[len(order)-1]
	}
	return nil
}

func (kr *keyring) has(id string) bool {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	_, ok := kr.keys[id]
	return ok
}

func (kr *keyring) newest() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.order[len(kr.order)-1]
}

func (kr *keyring) setActive(id string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if _, ok := kr.keys[id]; !ok {
		return fmt.Errorf("auth: master key %q is not in the key file", id)
	}
	kr.active = id
	return nil
}

// seal encrypts plain under the active key with AES-GCM; aad binds the
// ciphertext to its row and column so it cannot be moved to another.
func (kr *keyring) seal(plain []byte, aad string) (string, error) {
	kr.mu.RLock()
	id := kr.active
	aead := kr.keys[id]
	kr.mu.RUnlock()
	return sealWith(id, aead, plain, aad)
}

func sealWith(id string, aead cipher.AEAD, plain []byte, aad string) (string, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plain, []byte(aad))
	return sealPrefix + id + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// sealedKeyID returns the id of the key a ciphertext was sealed with.
func sealedKeyID(sealed string) string {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// open decrypts a sealed value; an unknown key id re-reads the key file
// once, so a key added for a rotation on another replica is picked up.
func (kr *keyring) open(sealed, aad string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, errors.New("auth: stored secret is not sealed")
	}
	id, body, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, errors.New("auth: stored secret is malformed")
	}
	kr.mu.RLock()
	aead := kr.keys[id]
	kr.mu.RUnlock()
	if aead == nil {
		if err := kr.reload(); err != nil {
			return nil, err
		}
		kr.mu.RLock()
		aead = kr.keys[id]
		kr.mu.RUnlock()
		if aead == nil {
			return nil, fmt.Errorf("%w (key id %s)", errUnknownMasterKey, id)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, errors.New("auth: stored secret is malformed")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("auth: stored secret does not decrypt with master key %s", id)
	}
	return plain, nil
}

// resolveMasterKeyFile picks the key file: the configured one, then
// IRPGATE_MASTER_KEY_FILE, then <dataDir>/master.key, created if missing.
func resolveMasterKeyFile(configured, dataDir string) (path string, created bool, err error) {
	path = configured
	if path == "" {
		path = os.Getenv(MasterKeyFileEnv)
	}
	if path != "" {
		return path, false, nil
	}
	if dataDir == "" {
		return "", false, errors.New("auth: no master key file (IRPGATE_MASTER_KEY_FILE) and no data directory")
	}
	path = filepath.Join(dataDir, masterKeyFileName)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", false, fmt.Errorf("auth: create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return path, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("auth: create master key file: %w", err)
	}
	content := "# irpgate master key: back it up; without it the vault cannot be read.\n" +
		"mk1 " + base64.StdEncoding.EncodeToString(raw) + "\n"
	_, werr := f.WriteString(content)
	if err := errors.Join(werr, f.Close()); err != nil {
		return "", false, fmt.Errorf("auth: write master key file: %w", err)
	}
	return path, true, nil
}
