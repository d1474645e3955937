package config

import (
	"net/url"
	"strings"
)

// ConnString returns a libpq keyword/value connection string for the
// source database: host, port, user, password, dbname, and sslmode,
// sslrootcert, sslcert and sslkey when set. Every value is single-quoted
// with backslash escapes, as libpq and pgx expect. The result contains the
// password: log Redacted().ConnString() instead.
func (c *Config) ConnString() string {
	host, port := c.Source.HostPort()
	a := c.Source.Advanced
	pairs := []struct{ k, v string }{
		{"host", host},
		{"port", port},
		{"user", c.Source.User},
		{"password", c.Source.EffectivePassword()},
		{"dbname", c.Source.Database},
		{"sslmode", a.SSLMode},
		{"sslrootcert", a.SSLRootCert},
		{"sslcert", a.SSLCert},
		{"sslkey", a.SSLKey},
	}
	var b strings.Builder
	for _, p := range pairs {
		if p.v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(quoteConnValue(p.v))
	}
	return b.String()
}

// quoteConnValue quotes a libpq keyword/value connection string value.
func quoteConnValue(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// redactURL replaces a password in a URL's userinfo by RedactedValue.
func redactURL(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	user := url.User(u.User.Username()).String()
	u.User = nil
	rest := strings.TrimPrefix(u.String(), u.Scheme+"://")
	return u.Scheme + "://" + user + ":" + RedactedValue + "@" + rest
}
