package main

// refuseWithRemote refuses the options a remote offloader decides. With
// --offloader the server's certificate is verified by that offloader,
// against the roots, pins and verification rules of this device's entry in
// its config, and a client certificate is the one that entry names; the
// protocol has no way (yet) to ask it for other ones per request. So each
// of these options is exit 4, saying what decides instead and what to do.
func refuseWithRemote(o *options) error {
	for _, c := range []struct {
		set             bool
		flag, why, hint string
	}{
		{o.insecure, "-k/--insecure",
			"the remote offloader verifies every server certificate for device %[2]q by its policy there, and cannot be asked to skip that",
			"drop -k; to trust this server, add its root to the roots_file of device %[2]q in the offloader's config"},
		{o.pinnedPubKey != "", "--pinnedpubkey",
			"pins are checked by the offloader, and a remote one takes them from device %[2]q's policy, not from the command line",
			"drop --pinnedpubkey, or run without --offloader to have the embedded offloader check the pin"},
		{o.cacert != "", "--cacert",
			"the remote offloader verifies against the roots of device %[2]q in its config",
			"drop --cacert; set roots_file for device %[2]q in the offloader's config"},
		{o.capath != "", "--capath",
			"the remote offloader verifies against the roots of device %[2]q in its config",
			"drop --capath; set roots_file for device %[2]q in the offloader's config"},
		{o.cert != "" || o.key != "", "--cert/--key",
			"a remote offloader holds the client key and answers with the certificate device %[2]q's entry names",
			"drop --cert/--key; set client_cert_file and client_key_file for device %[2]q in the offloader's config"},
	} {
		if c.set {
			return fail(exitNotHere, "%[1]s cannot be used with --offloader %[3]s: "+c.why, c.flag, o.deviceID, o.offloader).
				withHint(c.hint, c.flag, o.deviceID)
		}
	}
	return nil
}
