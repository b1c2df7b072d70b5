// Command devkafka is a small Kafka-protocol broker for the demo and for
// tests, built on franz-go's kfake. It listens on loopback only and, with
// --data-dir, keeps its log across restarts. It is never part of an
// installed package.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9092", "loopback host:port to listen on (port 0 picks a free port)")
	dataDir := flag.String("data-dir", "", "directory that keeps topics and offsets across restarts (empty: in memory)")
	syncWrites := flag.Bool("sync", false, "fsync every produced batch")
	topics := flag.String("topics", "rfid.movements,rfid.gateway-status", "topics to create at start, comma-separated")
	partitions := flag.Int("partitions", 3, "partitions of each created topic")
	addrFile := flag.String("addr-file", "", "write the listen address to this file once listening (for scripts and tests)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "devkafka: a development Kafka broker (franz-go kfake) on loopback.\n\nUsage: devkafka [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		fail(log, "bad --listen", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail(log, "devkafka listens on loopback only", fmt.Errorf("--listen %s", *listen))
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		fail(log, "bad --listen port", err)
	}
	if port == 0 {
		// kfake takes a fixed port: pick a free one the usual way.
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			fail(log, "cannot find a free port", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	var seed []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			seed = append(seed, t)
		}
	}
	if len(seed) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), seed...))
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
		if *syncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fail(log, "cannot start", err)
	}
	addr := c.ListenAddrs()[0]
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(addr+"\n"), 0o644); err != nil {
			fail(log, "cannot write --addr-file", err)
		}
	}
	log.Info("devkafka listening", "addr", addr, "data_dir", *dataDir, "topics", seed)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	log.Info("devkafka stopping")
	c.Close()
}

func fail(log *slog.Logger, msg string, err error) {
	log.Error(msg, "err", err)
	os.Exit(1)
}
