package config

import (
	"strings"
	"testing"
	"time"
)

func TestRemoteConfigSection(t *testing.T) {
	c, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteConfig.Enabled() || c.RemoteConfig.Topic != "rfid.gateway-config" || c.RemoteConfig.RollbackAfter != time.Minute {
		t.Errorf("remote_config defaults %+v", c.RemoteConfig)
	}
	c, err = Load(write(t, good+"remote_config: {public_keys: [/etc/rfidgw/keys/a.pub], rollback_after: 5s}\n"))
	if err != nil || c.Validate(ScopeAll) != nil || !c.RemoteConfig.Enabled() || c.RemoteConfig.RollbackAfter != 5*time.Second {
		t.Fatalf("remote_config on: %v %+v", err, c.RemoteConfig)
	}
	for _, tc := range []struct{ section, want string }{
		{"remote_config: {public_keys: [a.pub], rollback_after: 100ms}", "remote_config.rollback_after: 100ms is not between 1s and 1h"},
		{"remote_config: {public_keys: [a.pub], topic: rfid.movements}", "remote_config.topic: \"rfid.movements\" is already the events or status topic"},
		{"remote_config: {public_keys: [a.pub], topic: \"a b\"}", "remote_config.topic: \"a b\" is not a Kafka topic name"},
		{"remote_config: {public_keys: [\"\"]}", "remote_config.public_keys[0]: empty"},
		{"remote_config: {public_key: [a.pub]}", "remote_config.public_key: unknown key"},
	} {
		c, err := Load(write(t, good+tc.section+"\n"))
		if err == nil {
			err = c.Validate(ScopeAll)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.section, err, tc.want)
		}
	}
}
