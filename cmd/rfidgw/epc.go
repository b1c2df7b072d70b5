package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/gs1"
)

func epcCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "epc", Short: "GS1 EPC tools (decode)"}
	var format string
	decode := &cobra.Command{
		Use:   "decode HEX...",
		Short: "decode EPCs (hex) into their GS1 pure identity URI, scheme, filter and fields",
		Long: `Decode prints, for each EPC given in hex (as readers report it and as the
events' epc field carries it), the pure identity URI (urn:epc:id:...) that
events carry as epc_uri, the tag URI, the scheme and encoding, the filter
value and the scheme's fields, decoded per the GS1 EPC Tag Data Standard 2.x.
EPCs of other encodings are shown as their raw URI (urn:epc:raw:...), the
form EPCIS events use for them. Exit 2 when an argument is not hex.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErr(fmt.Errorf("--format: %q is neither text nor json", format))
			}
			bad := 0
			for _, a := range args {
				if err := printEPC(cmd.OutOrStdout(), a, format); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "rfidgw: %s: %v\n", a, err)
					bad++
				}
			}
			if bad > 0 {
				return usageErr(fmt.Errorf("%d of %d arguments are not EPCs in hex", bad, len(args)))
			}
			return nil
		},
	}
	decode.Flags().StringVar(&format, "format", "text", "output: text, or json (one object per line)")
	cmd.AddCommand(decode)
	return cmd
}

// epcJSON is one line of `epc decode --format json`.
type epcJSON struct {
	EPC        string            `json:"epc"`
	URI        string            `json:"uri"`
	TagURI     string            `json:"tag_uri,omitempty"`
	Scheme     string            `json:"scheme"`
	Encoding   string            `json:"encoding,omitempty"`
	Filter     *int              `json:"filter,omitempty"`
	FilterName string            `json:"filter_name,omitempty"`
	Key        string            `json:"gs1_key,omitempty"`
	Fields     map[string]string `json:"fields,omitempty"`
	Note       string            `json:"note,omitempty"`
}

func printEPC(w io.Writer, arg, format string) error {
	hex := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(arg), "0x"), "0X")
	e, err := gs1.Decode(hex)
	j := epcJSON{EPC: strings.ToUpper(hex)}
	switch {
	case errors.Is(err, gs1.ErrNotHex):
		return err
	case err != nil:
		j.URI, j.Scheme, j.Note = gs1.RawURI(hex), "raw", err.Error()
	default:
		j.URI, j.TagURI, j.Scheme, j.Encoding, j.Key = e.URI, e.TagURI, e.Scheme, e.Encoding, e.Key
		if e.Filter >= 0 {
			j.Filter, j.FilterName = &e.Filter, gs1.FilterName(e.Scheme, e.Filter)
		}
		j.Fields = map[string]string{}
		for _, f := range e.Fields {
			j.Fields[f.Name] = f.Value
		}
	}
	if format == "json" {
		b, _ := json.Marshal(j)
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, "%s\n", j.EPC)
	fmt.Fprintf(w, "  uri       %s\n", j.URI)
	if err != nil {
		fmt.Fprintf(w, "  scheme    raw (%v)\n", err)
		return nil
	}
	fmt.Fprintf(w, "  tag uri   %s\n", j.TagURI)
	fmt.Fprintf(w, "  scheme    %s (%s)\n", j.Scheme, j.Encoding)
	if j.Filter != nil {
		if j.FilterName != "" {
			fmt.Fprintf(w, "  filter    %d (%s)\n", *j.Filter, j.FilterName)
		} else {
			fmt.Fprintf(w, "  filter    %d\n", *j.Filter)
		}
	}
	if j.Key != "" {
		fmt.Fprintf(w, "  gs1 key   %s\n", j.Key)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(w, "  %-18s %s\n", strings.ReplaceAll(f.Name, "_", " "), f.Value)
	}
	return nil
}
