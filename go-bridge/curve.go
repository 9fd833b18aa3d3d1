package junction

/*
#include "bridge.h"
*/
import "C"

import "strings"

// CurveKeyPair is a CURVE key pair (ABI 1.8), each key 40 Z85 characters:
// the secret key stays with its owner ([ListenCurveSecretKey], or a
// route's [RouteCurveKeyPair]), the public key is handed to the peers
// ([RouteCurveServerKey], [ListenCurveClientKeys]). Its String and GoString
// hide the secret key, so printing a pair does not leak it.
type CurveKeyPair struct {
	PublicKey string
	SecretKey string
}

// String shows the public key only.
func (p CurveKeyPair) String() string {
	return "CurveKeyPair{PublicKey: " + p.PublicKey + ", SecretKey: <hidden>}"
}

// GoString is String, for %#v.
func (p CurveKeyPair) GoString() string { return p.String() }

// curveKeyBuffer is a key as the CURVE functions write it: the key and its
// NUL.
const curveKeyBuffer = C.JN_CURVE_KEY_LENGTH + 1

// NewCurveKeyPair makes a new key pair (jn_curve_keypair); UNIMPLEMENTED
// when libzmq was built without CURVE.
func NewCurveKeyPair() (CurveKeyPair, error) {
	var public, secret [curveKeyBuffer]C.char
	if err := statusError(C.junction_go_curve_keypair(&public[0], &secret[0])); err != nil {
		return CurveKeyPair{}, err
	}
	return CurveKeyPair{
		PublicKey: C.GoString(&public[0]),
		SecretKey: C.GoString(&secret[0]),
	}, nil
}

// CurvePublicKey is the public key of a Z85 secret key
// (jn_curve_public_key), for a listener's operator to hand its clients.
// INVALID_ARGUMENT for a key that is not 40 Z85 characters.
func CurvePublicKey(secretKey string) (string, error) {
	cSecret, err := cKey(secretKey, "secret key")
	if err != nil {
		return "", err
	}
	var public [curveKeyBuffer]C.char
	if err := statusError(C.junction_go_curve_public_key(cChars(cSecret), &public[0])); err != nil {
		return "", err
	}
	return C.GoString(&public[0]), nil
}

// cKey is a key as C takes it; an empty one stays one, for C to refuse.
// Unlike cName, its error does not repeat the text, which may be a secret.
func cKey(key, what string) ([]byte, error) {
	if strings.IndexByte(key, 0) >= 0 {
		return nil, Errorf(InvalidArgument, "the %s contains a NUL byte", what)
	}
	return append([]byte(key), 0), nil
}

// cOptionalKey is cKey of an option's key, nil (NULL) when the option was
// not given.
func cOptionalKey(key *string, what string) ([]byte, error) {
	if key == nil {
		return nil, nil
	}
	return cKey(*key, what)
}

// cCharsOrNil is cChars, or NULL for nil.
func cCharsOrNil(b []byte) *C.char {
	if b == nil {
		return nil
	}
	return cChars(b)
}
