package fingerprint_test

import (
	"fmt"
	"log"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/fingerprint"
)

// ExampleFromID makes a device present Firefox's ClientHello, restricted
// to TLS 1.2 and to what the device allows.
func ExampleFromID() {
	s, err := fingerprint.FromID(utls.HelloFirefox_Auto)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tlsclient.Config{
		// Offloader, ServerName, ... as usual.
		NextProtos:       []string{"h2", "http/1.1"},
		ShapeClientHello: s.Shape,
	}
	_ = cfg
	// The extensions Firefox sends that a TLS 1.2 client cannot honour:
	// delegated_credentials, key_share, supported_versions,
	// psk_key_exchange_modes, record_size_limit, encrypted_client_hello.
	fmt.Println("dropped:", s.Dropped())
	// Output:
	// dropped: [34 51 43 45 28 65037]
}
