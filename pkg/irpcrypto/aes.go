package irpcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the size of an AppKey and of a SEK: AES-256.
const KeySize = 32

// ErrBadPadding reports ciphertext that does not decrypt to valid PKCS#7
// padding, which in practice means the wrong key.
var ErrBadPadding = errors.New("irpcrypto: invalid padding (wrong key?)")

// NewKey returns 32 fresh random bytes, usable as an AppKey or a SEK.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("irpcrypto: random key: %w", err)
	}
	return k, nil
}

// EncryptECB encrypts plaintext with AES in ECB mode and PKCS#7 padding, as
// NIC does for the SEK and every request and response body. ECB is NIC's
// choice, not ours; it is used only because the protocol requires it.
func EncryptECB(key, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("irpcrypto: %w", err)
	}
	bs := block.BlockSize()
	pad := bs - len(plaintext)%bs
	out := make([]byte, len(plaintext)+pad)
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = byte(pad) //nolint:gosec // G115: pad is 1..bs, and bs is the AES block size, 16
	}
	for i := 0; i < len(out); i += bs {
		block.Encrypt(out[i:i+bs], out[i:i+bs])
	}
	return out, nil
}

// DecryptECB reverses EncryptECB and removes the PKCS#7 padding.
func DecryptECB(key, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("irpcrypto: %w", err)
	}
	bs := block.BlockSize()
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, fmt.Errorf("irpcrypto: ciphertext length %d is not a multiple of %d", len(ciphertext), bs)
	}
	out := make([]byte, len(ciphertext))
	for i := 0; i < len(out); i += bs {
		block.Decrypt(out[i:i+bs], ciphertext[i:i+bs])
	}
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) { //nolint:gosec // G115: pad came from a byte and is 1..16 here (checked first)
		return nil, ErrBadPadding
	}
	return out[:len(out)-pad], nil
}

// EncryptB64 is EncryptECB followed by standard base64, the form of every
// "Data" field on the wire.
func EncryptB64(key, plaintext []byte) (string, error) {
	ct, err := EncryptECB(key, plaintext)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// DecryptB64 decodes standard base64 and decrypts with DecryptECB.
func DecryptB64(key []byte, data string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("irpcrypto: data is not base64: %w", err)
	}
	return DecryptECB(key, ct)
}
