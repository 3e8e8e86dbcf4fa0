package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keywarden/keywarden/internal/config"
)

// NewCmdConfig builds `keywarden config check|schema|init`.
func NewCmdConfig(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate, describe or create a config file",
		Args:  subcommand,
		RunE:  help,
	}
	cmd.AddCommand(newCmdConfigCheck(f), newCmdConfigSchema(f), newCmdConfigInit(f))
	return cmd
}

// defaultConfigFile is what config check reads when no file is named.
const defaultConfigFile = "./keywarden.yaml"

func newCmdConfigCheck(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a config file (default ./keywarden.yaml); errors name FILE:LINE and the key",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path := defaultConfigFile
			if len(args) == 1 {
				path = args[0]
			} else if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				return usageError(fmt.Errorf("no config file given and %s does not exist: name one (keywarden config check FILE) or write a starter with keywarden config init -o %s", path, path))
			}
			cfg, err := config.Load(path)
			if err != nil {
				return usageError(err)
			}
			if err := checkTemplates(path, cfg); err != nil {
				return usageError(err)
			}
			_, err = fmt.Fprintf(f.Out, "%s: ok\n", path)
			return err
		},
	}
}

func newCmdConfigSchema(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the config file's JSON Schema",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b, err := config.JSONSchema()
			if err != nil {
				return err
			}
			_, err = f.Out.Write(b)
			return err
		},
	}
}

func newCmdConfigInit(f *Factory) *cobra.Command {
	var output string
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter config with every default",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if output == "" || output == "-" {
				_, err := f.Out.Write(config.InitYAML())
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			fh, err := os.OpenFile(output, flags, 0o666) // less the umask
			if errors.Is(err, os.ErrExist) {
				return usageError(fmt.Errorf("%s already exists; use --force to overwrite it", output))
			}
			if err != nil {
				return err
			}
			if _, err := fh.Write(config.InitYAML()); err != nil {
				fh.Close()
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
			f.Logger().Info("config written", "file", output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}
