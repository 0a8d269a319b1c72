package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// checkTLSCert: dovecot and postfix serve one certificate, without SNI on
// mailcow's mapped ports. It must name MAILCOW_HOSTNAME and every
// ADDITIONAL_SAN name (as TLS matches names: a wildcard covers one label),
// and must not be about to expire: ACME renews well before, so a
// certificate this close to its end means renewal is failing.
// exampleCert is the certificate mailcow ships, which update.sh copies
// into data/assets/ssl when it is empty.
const exampleCert = "data/assets/ssl-example/cert.pem"

func checkTLSCert(in *mailcowFiles) Check {
	data, ok, err := in.read(TLSCert)
	if err != nil {
		return Check{Status: StatusFail, Detail: err.Error(), Fix: "make " + TLSCert + " readable"}
	}
	if !ok {
		return Check{Status: StatusSkipped, Detail: "no " + TLSCert + " (acme-mailcow writes one at the first start)"}
	}
	// update.sh copies mailcow's example certificate into place when
	// there is none; acme-mailcow replaces it at its next run. Still
	// serving it is worth a look, not an alarm on a fresh install.
	if example, ok, _ := in.read(exampleCert); ok && bytes.Equal(example, data) {
		return Check{Status: StatusWarn, Detail: TLSCert + " is still mailcow's example certificate (" + exampleCert + "): acme-mailcow has not replaced it yet",
			Fix: "check acme-mailcow's log ('docker compose logs acme-mailcow'), or put your own certificate in " + TLSCert}
	}
	cert, err := firstCertificate(data)
	if err != nil {
		return Check{Status: StatusFail, Detail: fmt.Sprintf("%s: %v", TLSCert, err), Fix: "put the server certificate, then its chain, in " + TLSCert + " (PEM)"}
	}
	if cert == nil {
		return Check{Status: StatusFail, Detail: TLSCert + ": no PEM CERTIFICATE block", Fix: "put the server certificate, then its chain, in " + TLSCert + " (PEM)"}
	}

	items, missing, checked := nameCoverage(in, cert)
	sans := cert.DNSNames
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	items = append(items, fmt.Sprintf("certificate names: %s; valid %s to %s", strings.Join(sans, ", "), cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly)))
	c := certVerdict(cert, in.opt.Now, in.opt.Config.CertMinDays, missing, checked)
	c.Items = items
	return c
}

// firstCertificate parses the first PEM CERTIFICATE block of data; nil
// when there is none.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for rest := data; len(rest) > 0; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
	return nil, nil
}

// nameCoverage checks the certificate against MAILCOW_HOSTNAME and the
// ADDITIONAL_SAN names: the check's items, the names it does not cover,
// and how many names were checked (a name per mail domain, imap.*, is
// not).
func nameCoverage(in *mailcowFiles, cert *x509.Certificate) (items, missing []string, checked int) {
	host := in.confVar("MAILCOW_HOSTNAME", "")
	if in.confErr != nil {
		items = append(items, ui.FirstLine(in.confErr.Error())+": names not checked")
	}
	var names []confName
	if host.Set && host.Value != "" {
		names = append(names, confName{host.Value, host})
	}
	san := in.confVar("ADDITIONAL_SAN", "")
	for _, n := range strings.Split(san.Value, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, confName{n, san})
		}
	}
	for _, n := range names {
		if !strings.HasSuffix(n.name, ".*") {
			checked++
		}
		switch {
		case strings.HasSuffix(n.name, ".*"):
			// imap.* stands for imap.<every mail domain>: the domains are
			// in the database.
			items = append(items, fmt.Sprintf("%s (%s): one name per mail domain, not checked", n.name, n.from))
		case !certCovers(cert, n.name):
			missing = append(missing, n.name)
			items = append(items, fmt.Sprintf("%s (%s) is not in the certificate", n.name, n.from))
		}
	}
	return items, missing, checked
}

// certVerdict judges the certificate at now: expired, not valid yet,
// missing names, expiring in fewer than minDays days, or fine.
func certVerdict(cert *x509.Certificate, now time.Time, minDays int, missing []string, checked int) Check {
	c := Check{Status: StatusOK}
	left := cert.NotAfter.Sub(now)
	days := int(left.Hours() / 24)
	renew := "check acme-mailcow's log ('docker compose logs acme-mailcow'): renewal is failing; or, with your own certificate, replace " + TLSCert + " and restart nginx-mailcow, dovecot-mailcow and postfix-mailcow"
	switch {
	case !now.Before(cert.NotAfter):
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%s expired on %s: clients refuse IMAP, SMTP and HTTPS connections", TLSCert, cert.NotAfter.UTC().Format(time.DateOnly))
		c.Fix = renew
	case now.Before(cert.NotBefore):
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%s is not valid before %s: check the server's clock", TLSCert, cert.NotBefore.UTC().Format(time.RFC3339))
		c.Fix = "set the clock (timedatectl), or replace the certificate"
	case len(missing) > 0:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%s does not cover %s: mail clients reject the certificate (dovecot and postfix serve this one certificate, no SNI)", TLSCert, strings.Join(missing, ", "))
		c.Fix = "issue the certificate for every name: check MAILCOW_HOSTNAME and ADDITIONAL_SAN in " + MailcowConf + ", then 'docker compose up -d acme-mailcow' and its log"
	case days < minDays:
		c.Status = StatusWarn
		c.Detail = fmt.Sprintf("%s expires in %d day(s), on %s (warning below %d days: [verify] cert_min_days)", TLSCert, days, cert.NotAfter.UTC().Format(time.DateOnly), minDays)
		c.Fix = renew
	default:
		c.Detail = fmt.Sprintf("%s covers %d name(s) and is valid for %d more days", TLSCert, checked, days)
	}
	return c
}

type confName struct {
	name string
	from confValue
}

// certCovers reports whether a client connecting to name accepts cert,
// as crypto/tls matches names (a wildcard covers exactly one label). A
// wildcard name is covered by the same wildcard only.
func certCovers(cert *x509.Certificate, name string) bool {
	if strings.HasPrefix(name, "*.") {
		for _, n := range cert.DNSNames {
			if strings.EqualFold(n, name) {
				return true
			}
		}
		return false
	}
	return cert.VerifyHostname(name) == nil
}
