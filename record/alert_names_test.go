package record

import "testing"

// Every alert reads as its name, an alert without one as its number, in
// and beyond the table's range.
func TestAlertNames(t *testing.T) {
	for a, want := range map[Alert]string{
		AlertCloseNotify:           "tls: close notify",
		AlertBadRecordMAC:          "tls: bad record MAC",
		AlertNoApplicationProtocol: "tls: no application protocol",
		Alert(1):                   "tls: alert(1)",
		Alert(255):                 "tls: alert(255)",
	} {
		if got := a.Error(); got != want {
			t.Errorf("Alert(%d).Error() = %q, want %q", a, got, want)
		}
	}
}
